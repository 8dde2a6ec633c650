using Akka.Actor;
using Akka.Event;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// A node's way to the store singleton: the actor its connections send their
/// <see cref="TcpStore.Akka.Store.StoreProtocol"/> messages to. It finds the singleton through the cluster singleton
/// proxy, then forwards straight to it (a local singleton costs no serialization), and watches it. While no
/// singleton is known — at start, during a failover — it holds the messages (at most one batch per connection, so
/// they are bounded by the connections) and delivers them, in order, to the next singleton.
/// </summary>
/// <remarks>
/// When the singleton it forwarded to stops, whatever that singleton owed is lost: the replies of the batches in
/// flight and every deferred WAIT. The gateway tells its parent (the TcpStore guardian, which tells the listener,
/// which tells every connection) <see cref="StoreLost"/>; the connections with something outstanding close, and
/// the idle ones carry on with the next singleton.
/// </remarks>
internal sealed class StoreGateway : ReceiveActor, IWithTimers
{
    private sealed record Identify
    {
        public static readonly Identify Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _proxy;
    private readonly TimeSpan _identifyInterval;
    private readonly Queue<(IActorRef Sender, object Message)> _held = new();
    private IActorRef _lost = ActorRefs.Nobody;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IActorRef proxy, ClusterStoreSettings settings) =>
        global::Akka.Actor.Props.Create(() => new StoreGateway(proxy, settings.IdentifyInterval));

    public StoreGateway(IActorRef proxy, TimeSpan identifyInterval)
    {
        _proxy = proxy;
        _identifyInterval = identifyInterval;
        Searching();
    }

    protected override void PreStart() => StartSearching();

    private void StartSearching()
    {
        Self.Tell(Identify.Instance);
        Timers.StartPeriodicTimer(Identify.Instance, Identify.Instance, _identifyInterval);
    }

    private void Searching()
    {
        // Any store's stats reply names the singleton (its sender); the proxy delivers the request once it knows it.
        Receive<Identify>(_ => _proxy.Tell(GetStats.Instance));
        Receive<StoreStats>(_ =>
        {
            if (!Sender.Equals(_lost)) Found(Sender); // else a late answer of the singleton that just stopped
        });
        Receive<Terminated>(_ => { });
        ReceiveAny(message => _held.Enqueue((Sender, message)));
    }

    private void Found(IActorRef singleton)
    {
        Timers.Cancel(Identify.Instance);
        Context.Watch(singleton);
        _log.Info("TcpStore singleton found at {0}; delivering {1} held messages", singleton.Path, _held.Count);
        while (_held.TryDequeue(out var held)) singleton.Tell(held.Message, held.Sender);
        Become(() => Forwarding(singleton));
    }

    private void Forwarding(IActorRef singleton)
    {
        Receive<Terminated>(terminated =>
        {
            if (!terminated.ActorRef.Equals(singleton)) return;
            _lost = singleton;
            _log.Warning("TcpStore singleton {0} stopped: closing this node's connections that were owed an answer, " +
                         "holding requests until the next one is found", singleton.Path);
            Context.Parent.Tell(StoreLost.Instance);
            Become(Searching);
            StartSearching();
        });
        Receive<Identify>(_ => { });
        Receive<StoreStats>(_ => { }); // a late answer to a probe: nobody else sends stats here
        ReceiveAny(message => singleton.Forward(message));
    }
}
