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

    public static Props Props(TcpStoreSettings settings, IStoreProvider storeProvider) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreGuardian(settings, storeProvider));

    internal static Props Props(TcpStoreSettings settings, Props storeProps) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreGuardian(settings, new StandaloneStoreProvider(storeProps)));

    public TcpStoreGuardian(TcpStoreSettings settings) : this(settings, new StandaloneStoreProvider(settings))
    {
    }

    /// <summary>
    /// With the store (or the way to it) created by <paramref name="storeProvider"/>: standalone, cluster mode, or a
    /// test's. Public because Akka creates actors through their public constructors.
    /// </summary>
    public TcpStoreGuardian(TcpStoreSettings settings, IStoreProvider storeProvider)
    {
        var store = storeProvider.CreateStore(Context, settings);
        var listener = Context.ActorOf(TcpStoreListener.Props(settings, store), "listener");
        var registry = ActorRegistry.For(Context.System);
        registry.TryRegister<StoreActor>(store);
        registry.TryRegister<TcpStoreListener>(listener);

        Receive<TcpStoreListener.GetBinding>(query => listener.Forward(query));
        Receive<TcpStoreListener.GetConnectionCount>(query => listener.Forward(query));
        Receive<StoreProtocol.GetStats>(query => store.Forward(query));
        // Cluster mode: the store this node used is gone; the listener tells every connection.
        Receive<StoreProtocol.StoreLost>(lost => listener.Forward(lost));
    }

    /// <summary>
    /// Resume, never restart: a restart would lose every stored key. The store turns a client's bad request into a
    /// rejection of that client's connection and never throws for it; an unexpected exception escaping it leaves
    /// its state as it was, so resuming is safe. The listener likewise keeps its binding.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Resume);
}
