using Akka.Actor;
using Akka.Hosting;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// The parent of the <see cref="StoreActor"/> and the <see cref="TcpStoreListener"/>, and the one place that decides
/// how they are supervised. Registers both in the <see cref="ActorRegistry"/>, and forwards the listener's and the
/// store's queries (<see cref="TcpStoreListener.GetBinding"/>, <see cref="TcpStoreListener.GetConnectionCount"/>,
/// <see cref="StoreProtocol.GetStats"/>), so a host can use the guardian, which <c>WithTcpStore</c> registers
/// synchronously, without waiting for its children's registration.
/// </summary>
public sealed class TcpStoreGuardian : ReceiveActor
{
    public static Props Props(TcpStoreSettings settings) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreGuardian(settings));

    internal static Props Props(TcpStoreSettings settings, Props storeProps) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreGuardian(settings, storeProps));

    public TcpStoreGuardian(TcpStoreSettings settings) : this(settings, StoreActor.Props(settings.StoreLimits))
    {
    }

    /// <summary>
    /// With the store created from <paramref name="storeProps"/> (tests use it to check the supervision strategy).
    /// Public because Akka creates actors through their public constructors.
    /// </summary>
    public TcpStoreGuardian(TcpStoreSettings settings, Props storeProps)
    {
        var store = Context.ActorOf(storeProps, "store");
        var listener = Context.ActorOf(TcpStoreListener.Props(settings, store), "listener");
        var registry = ActorRegistry.For(Context.System);
        registry.TryRegister<StoreActor>(store);
        registry.TryRegister<TcpStoreListener>(listener);

        Receive<TcpStoreListener.GetBinding>(query => listener.Forward(query));
        Receive<TcpStoreListener.GetConnectionCount>(query => listener.Forward(query));
        Receive<StoreProtocol.GetStats>(query => store.Forward(query));
    }

    /// <summary>
    /// Resume, never restart: a restart would lose every stored key. The store turns a client's bad request into a
    /// rejection of that client's connection and never throws for it; an unexpected exception escaping it leaves
    /// its state as it was, so resuming is safe. The listener likewise keeps its binding.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Resume);
}
