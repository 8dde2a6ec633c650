using Akka.Actor;
using Akka.Hosting;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// The parent of the <see cref="StoreActor"/> and the <see cref="TcpStoreListener"/>, and the one place that decides
/// how they are supervised. Registers both in the <see cref="ActorRegistry"/>.
/// </summary>
public sealed class TcpStoreGuardian : ReceiveActor
{
    public static Props Props(TcpStoreSettings settings) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreGuardian(settings));

    public TcpStoreGuardian(TcpStoreSettings settings)
    {
        var store = Context.ActorOf(StoreActor.Props(settings.StoreLimits), "store");
        var listener = Context.ActorOf(TcpStoreListener.Props(settings, store), "listener");
        var registry = ActorRegistry.For(Context.System);
        registry.TryRegister<StoreActor>(store);
        registry.TryRegister<TcpStoreListener>(listener);
    }

    /// <summary>
    /// Resume, never restart: a restart would lose every stored key. The store turns a client's bad request into a
    /// rejection of that client's connection and never throws for it; an unexpected exception escaping it leaves
    /// its state as it was, so resuming is safe. The listener likewise keeps its binding.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Resume);
}
