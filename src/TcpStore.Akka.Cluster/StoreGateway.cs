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
/// <para>It tells the node's <see cref="ClusterReadiness"/> each store it finds.</para>
/// </remarks>
internal sealed class StoreGateway : ReceiveActor, IWithTimers
{
    private sealed record Identify
    {
        public static readonly Identify Instance = new();
    }

    private sealed record Flush
    {
        public static readonly Flush Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _proxy;
    private readonly TimeSpan _identifyInterval;
    private readonly Queue<(IActorRef Sender, object Message)> _held = new();
    private readonly IActorRef _readiness;
    private IActorRef _lost = ActorRefs.Nobody;

    // Requests for a singleton on another node, sent as one NodeRequests when this mailbox has nothing more for now.
    private readonly List<object> _outbox = [];
    private long _outboxBytes;
    private bool _flushScheduled;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="proxy">The singleton proxy, asked where the store is.</param>
    /// <param name="settings">Cluster mode's settings (the identify interval).</param>
    /// <param name="readiness">Told each store found (<see cref="ClusterReadiness"/>); none when null.</param>
    /// <param name="what">How the log names the store: the singleton (the default store) or a named store.</param>
    public static Props Props(IActorRef proxy, ClusterStoreSettings settings, IActorRef? readiness = null, string what = "TcpStore singleton") =>
        global::Akka.Actor.Props.Create(() => new StoreGateway(proxy, settings.IdentifyInterval, readiness ?? ActorRefs.Nobody, what));

    private readonly string _what;

    public StoreGateway(IActorRef proxy, TimeSpan identifyInterval, IActorRef readiness, string what)
    {
        _what = what;
        _proxy = proxy;
        _identifyInterval = identifyInterval;
        _readiness = readiness;
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
        Receive<NodeReplies>(Deliver); // late answers of the singleton that just stopped: they were confirmed
        // A flush queued for the store that just stopped (its batch was dropped): the next store's first batch needs
        // a flush of its own, so the flag goes down (it stayed up, and that batch waited forever: seen when a node died
        // under load with the store it had and the next one both on other nodes).
        Receive<Flush>(_ => _flushScheduled = false);
        ReceiveAny(message => _held.Enqueue((Sender, message)));
    }

    private void Found(IActorRef singleton)
    {
        Timers.Cancel(Identify.Instance);
        Context.Watch(singleton);
        _log.Info(_what + " found at {0}; delivering {1} held messages", singleton.Path, _held.Count);
        var remote = !singleton.Path.Address.Equals(Self.Path.Address);
        Become(() => Forwarding(singleton, remote));
        while (_held.TryDequeue(out var held)) Route(singleton, remote, held.Message, held.Sender);
        _readiness.Tell(new ClusterReadiness.StoreFound(singleton));
    }

    /// <summary>
    /// A local singleton gets each message as it comes. A remote one gets a node's requests in batches: each arriving
    /// request waits only for the others already in this mailbox (a flush is queued behind them), so a lone request is
    /// delayed by one mailbox turn and a storm's requests share remote messages.
    /// </summary>
    private void Route(IActorRef singleton, bool remote, object message, IActorRef sender)
    {
        if (!remote || message is not (Execute or ConnectionClosed))
        {
            FlushTo(singleton); // whatever was queued first goes first
            singleton.Tell(message, sender);
            return;
        }
        _outbox.Add(message);
        _outboxBytes += NodeBatch.SizeOf(message);
        if (_outboxBytes >= NodeBatch.MaxBytes) FlushTo(singleton);
        else if (!_flushScheduled)
        {
            _flushScheduled = true;
            Self.Tell(Flush.Instance);
        }
    }

    private void FlushTo(IActorRef singleton)
    {
        if (_outbox.Count == 0) return;
        // Sent as this gateway, so that the singleton knows where to send this node's replies in batches.
        singleton.Tell(_outbox.Count == 1 ? _outbox[0] : new NodeRequests(_outbox.ToArray()), Self);
        _outbox.Clear();
        _outboxBytes = 0;
    }

    private void Deliver(NodeReplies replies)
    {
        foreach (var delivery in replies.Deliveries) delivery.Connection.Tell(delivery.Message, Sender);
    }

    private void Forwarding(IActorRef singleton, bool remote)
    {
        Receive<Flush>(_ =>
        {
            _flushScheduled = false;
            FlushTo(singleton);
        });
        Receive<NodeReplies>(Deliver);
        Receive<Terminated>(terminated =>
        {
            if (!terminated.ActorRef.Equals(singleton)) return;
            _lost = singleton;
            _outbox.Clear(); // their connections are owed answers: StoreLost closes them
            _outboxBytes = 0;
            _log.Warning(_what + " {0} stopped: closing this node's connections that were owed an answer, " +
                         "holding requests until the next one is found", singleton.Path);
            Context.Parent.Tell(StoreLost.Instance);
            Become(Searching);
            StartSearching();
        });
        Receive<Identify>(_ => { });
        Receive<StoreStats>(_ => { }); // a late answer to a probe: nobody else sends stats here
        ReceiveAny(message => Route(singleton, remote, message, Sender));
    }
}
