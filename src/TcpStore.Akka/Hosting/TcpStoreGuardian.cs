using Akka.Actor;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Connections;
using TcpStore.Akka.EventLoops;
using TcpStore.Akka.Store;

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
    public static Props Props(TcpStoreSettings settings, IStoreProvider? storeProvider = null) =>
        global::Akka.Actor.Props.Create(() =>
            new TcpStoreGuardian(settings, storeProvider ?? new StandaloneStoreProvider(settings)));

    /// <summary>Ask for the guardian's children: answered with <see cref="Components"/>.</summary>
    public sealed record GetComponents
    {
        public static readonly GetComponents Instance = new();
    }

    /// <summary>The actor that takes the <see cref="StoreProtocol"/> messages, and the listener.</summary>
    public sealed record Components(IActorRef Store, IActorRef Listener);

    /// <summary>Public because Akka creates actors through their public constructors; use <see cref="Props"/>.</summary>
    public TcpStoreGuardian(TcpStoreSettings settings, IStoreProvider storeProvider)
    {
        // The epoll transport's loops first: their dispatchers must exist before the store and the listener are
        // placed on them.
        if (settings.Listener.Transport == TcpTransport.Epoll) EventLoopGroup.For(Context.System);
        // A socket accepted while the listener or a host stops is a dead letter: it must still be closed.
        UndeliveredConnectionCloser.EnsureStarted(Context.System);
        var store = storeProvider.CreateStore(Context);
        var listener = Context.ActorOf(TcpStoreListener.Props(settings.Listener, store), "listener");
        var components = new Components(store, listener);

        Receive<GetComponents>(_ => Sender.Tell(components));
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
