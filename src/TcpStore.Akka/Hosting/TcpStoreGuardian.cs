using Akka.Actor;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.EventLoops;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;

namespace TcpStore.Akka.Hosting;

/// <summary>
/// The parent of the store (or, in cluster mode, the node's way to it) and the <see cref="TcpStoreListener"/>, and the
/// one place that decides how they are supervised. It answers <see cref="GetComponents"/> with both, so that whoever
/// started it (<c>WithTcpStore</c>) registers them before anyone can look for them, and forwards the listener's and
/// the store's queries (<see cref="TcpStoreListener.GetBinding"/>, <see cref="TcpStoreListener.GetConnectionCount"/>,
/// <see cref="StoreProtocol.GetStats"/>).
/// </summary>
public sealed class TcpStoreGuardian : ReceiveActor
{
    /// <summary>A guardian whose store comes from <paramref name="storeProvider"/> (standalone when null).</summary>
    /// <param name="settings">The store's settings.</param>
    /// <param name="storeProvider">Where the store comes from; a <see cref="StoreActor"/> of its own when null.</param>
    /// <param name="name">The store's name (<see cref="TcpStoreManager"/>).</param>
    /// <param name="budget">Connections shared with the manager's other stores; none when null.</param>
    public static Props Props(
        TcpStoreSettings settings, IStoreProvider? storeProvider = null, string name = TcpStoreManager.DefaultStoreName,
        ConnectionBudget? budget = null) =>
        global::Akka.Actor.Props.Create(() => new TcpStoreGuardian(
            settings, storeProvider ?? new StandaloneStoreProvider(settings), name, budget ?? new ConnectionBudget(int.MaxValue)));

    /// <summary>Ask for the guardian's children: answered with <see cref="Components"/>.</summary>
    public sealed record GetComponents
    {
        public static readonly GetComponents Instance = new();
    }

    /// <summary>The actor that takes the <see cref="StoreProtocol"/> messages, and the listener.</summary>
    public sealed record Components(IActorRef Store, IActorRef Listener);

    /// <summary>Public because Akka creates actors through their public constructors; use <see cref="Props"/>.</summary>
    public TcpStoreGuardian(TcpStoreSettings settings, IStoreProvider storeProvider, string name, ConnectionBudget budget)
    {
        Name = name;
        // The epoll transport's loops first: their dispatchers must exist before the store and the listener are
        // placed on them.
        if (settings.Listener.Transport == TcpTransport.Epoll) EventLoopGroup.For(Context.System);
        // A socket accepted while the listener or a host stops is a dead letter: it must still be closed.
        UndeliveredConnectionCloser.EnsureStarted(Context.System);
        _metrics = TcpStoreMetrics.Acquire(name);
        var store = storeProvider.CreateStore(Context, _metrics);
        var listener = Context.ActorOf(TcpStoreListener.Props(settings.Listener, store, budget, _metrics), "listener");
        var components = new Components(store, listener);

        Receive<GetComponents>(_ => Sender.Tell(components));
        Receive<TcpStoreListener.GetBinding>(query => listener.Forward(query));
        Receive<TcpStoreListener.GetConnectionCount>(query => listener.Forward(query));
        Receive<StoreProtocol.GetStats>(query => store.Forward(query));
        // Cluster mode: the store this node used is gone; the listener tells every connection.
        Receive<StoreProtocol.StoreLost>(lost => listener.Forward(lost));
    }

    private readonly StoreMetrics _metrics;

    /// <summary>The store's name.</summary>
    public string Name { get; }

    /// <summary>The store is gone (removed, or its system stops): so are its counts.</summary>
    protected override void PostStop() => TcpStoreMetrics.Release(_metrics);

    /// <summary>
    /// Resume, never restart: a restart would lose every stored key. The store turns a client's bad request into a
    /// rejection of that client's connection and never throws for it; an unexpected exception escaping it leaves
    /// its state as it was, so resuming is safe. The listener likewise keeps its binding.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Resume);
}
