using System.Diagnostics;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.DistributedData;
using Akka.Event;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// A node's probe for the named store <paramref name="EntityId"/> (<c>NAME.INCARNATION</c>), sent through the shard
/// region: the entity starts the store if it does not run, and the store answers the sender (a
/// <see cref="StoreGateway"/>) with its <see cref="StoreStats"/>, from which the gateway knows it.
/// </summary>
/// <param name="EntityId">The store's entity id.</param>
/// <param name="MaxQueueLength">The store's limit (<c>limits.max-queue-length</c>), the same on every node.</param>
internal sealed record FindStore(string EntityId, int MaxQueueLength);

/// <summary>Removal of a named store: the entity stops its store and deletes its replicated keys from a quorum,
/// then answers <see cref="StoreDropped"/>.</summary>
internal sealed record DropStore(string EntityId);

internal sealed record StoreDropped(string EntityId);

/// <summary>
/// Routes the named stores' messages: the entity id is the store's <c>NAME.INCARNATION</c>, and each store is a shard
/// of its own, so Akka's allocation strategy spreads stores (not hash buckets of them) over the nodes, and losing a
/// node moves exactly the stores it hosted.
/// </summary>
internal sealed class StoreShardExtractor : IMessageExtractor
{
    public static readonly StoreShardExtractor Instance = new();

    public string? EntityId(object message) => message switch
    {
        FindStore find => find.EntityId,
        DropStore drop => drop.EntityId,
        _ => null,
    };

    public object? EntityMessage(object message) => message;

    public string? ShardId(object message) => EntityId(message);

    public string ShardId(string entityId, object? messageHint = null) => entityId;
}

/// <summary>
/// Akka's least-shards allocation (a new or moved store goes to the node with the fewest), with its rebalancing only
/// when asked for (<c>named-stores.rebalance</c>): a rebalance moves stores between live nodes, and each move is a
/// takeover that closes the connections waiting on the store.
/// </summary>
internal sealed class StoreAllocationStrategy(IShardAllocationStrategy inner, bool rebalance)
    : IActorSystemDependentAllocationStrategy
{
    // Akka's strategy reads the cluster's state (members leaving are not allocated to): the coordinator starts it.
    public void Start(ActorSystem system) => (inner as IActorSystemDependentAllocationStrategy)?.Start(system);

    public Task<IActorRef> AllocateShard(IActorRef requester, string shardId,
        IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations) =>
        inner.AllocateShard(requester, shardId, currentShardAllocations);

    public Task<IImmutableSet<string>> Rebalance(IImmutableDictionary<IActorRef, IImmutableList<string>> currentShardAllocations,
        IImmutableSet<string> rebalanceInProgress) =>
        rebalance ? inner.Rebalance(currentShardAllocations, rebalanceInProgress)
            : Task.FromResult<IImmutableSet<string>>(ImmutableHashSet<string>.Empty);
}

/// <summary>
/// A named store as a sharded entity: what <see cref="StoreSingleton"/> is to the default store. It runs the store's
/// <see cref="ReplicatedStoreActor"/> on its own keys (<see cref="ReplicaLayout.PrefixOf"/>), under a new name each
/// time, never restarted in place, so a handoff, a rebalance or a node's loss is a takeover like a singleton failover:
/// a new epoch, the old one fenced, the state read back from a quorum.
/// </summary>
/// <remarks>
/// The store starts at the first <see cref="FindStore"/> (it carries the store's limits): the gateways of every node
/// probe while they do not know the store, so a store whose node was lost comes back on a survivor without any client
/// traffic and without remember-entities. A store fenced by a successor, or whose keys were deleted, is not started
/// again here: the entity passivates, and the next probe goes wherever the shard lives now (here again, if it does).
/// </remarks>
internal sealed class StoreEntity : ReceiveActor, IWithTimers
{
    /// <summary>The shard's stop message (handoff, rebalance, passivation): the store stops with the entity.</summary>
    public sealed record HandOff
    {
        public static readonly HandOff Instance = new();
    }

    private sealed record RetryDelete
    {
        public static readonly RetryDelete Instance = new();
    }

    private sealed record StartAgain
    {
        public static readonly StartAgain Instance = new();
    }

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly string _entityId;
    private readonly string _name;
    private readonly ClusterStoreSettings _settings;
    private readonly IActorRef _replicator;
    private readonly ReplicaLayout _layout;
    private IActorRef? _current;
    private int _incarnation;
    private long _startedAt; // Stopwatch timestamp of the last start
    private int? _maxQueueLength;
    private bool _finished;  // fenced, or its keys deleted: not started again by this entity
    private bool _dropping;
    private readonly HashSet<string> _undeleted = [];
    private readonly List<IActorRef> _droppers = [];

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(string entityId, ClusterStoreSettings settings, IActorRef replicator) =>
        global::Akka.Actor.Props.Create(() => new StoreEntity(entityId, settings, replicator));

    /// <summary>The store's name in an entity id (<c>NAME.INCARNATION</c>).</summary>
    public static string NameOf(string entityId) => entityId.Split('.')[0];

    public StoreEntity(string entityId, ClusterStoreSettings settings, IActorRef replicator)
    {
        _entityId = entityId;
        _name = NameOf(entityId);
        _settings = settings;
        _replicator = replicator;
        _layout = new ReplicaLayout(settings.Buckets, ReplicaLayout.PrefixOf(entityId));

        Receive<FindStore>(find =>
        {
            if (_dropping || _finished) return; // going away: the prober asks again, and finds where the store is then
            _maxQueueLength ??= find.MaxQueueLength;
            Start();
            _current!.Tell(GetStats.Instance, Sender);
        });
        Receive<DropStore>(_ =>
        {
            _droppers.Add(Sender);
            if (_dropping) return;
            _dropping = true;
            _log.Info("TcpStore store {0}: removed; stopping it and deleting its replicated keys from a quorum", _name);
            if (_current is not null) Context.Stop(_current); // its keys go once it has stopped (Terminated)
            else DeleteKeys();
        });
        Receive<ReplicatedStoreActor.Fenced>(_ =>
        {
            if (Sender.Equals(_current)) _finished = true;
        });
        Receive<ReplicatedStoreActor.Deleted>(_ =>
        {
            if (Sender.Equals(_current)) _finished = true;
        });
        Receive<Terminated>(terminated =>
        {
            if (!terminated.ActorRef.Equals(_current)) return;
            _current = null;
            if (_dropping) DeleteKeys();
            else if (_finished)
            {
                _log.Warning("TcpStore store {0}: {1} was replaced or removed; this entity passivates (the shard's next message finds the store where it lives)",
                    _name, terminated.ActorRef.Path.Name);
                Context.Parent.Tell(new Passivate(HandOff.Instance));
            }
            else
            {
                // At most one start per retry-interval: a store that fails as it takes over (a broken replica) would
                // otherwise be replaced thousands of times a second, each with an error in the log.
                var wait = _settings.RetryInterval - Stopwatch.GetElapsedTime(_startedAt);
                _log.Warning("TcpStore store {0}: {1} stopped; starting a new one in {2} ms, which takes the state over from a quorum",
                    _name, terminated.ActorRef.Path.Name, Math.Max(0, (int)wait.TotalMilliseconds));
                if (wait <= TimeSpan.Zero) Start();
                else Timers.StartSingleTimer(StartAgain.Instance, StartAgain.Instance, wait);
            }
        });
        Receive<DeleteSuccess>(deleted => Deleted(deleted.Key.Id));
        Receive<DataDeleted>(deleted => Deleted(deleted.Key.Id));
        Receive<ReplicationDeleteFailure>(failed =>
        {
            _log.Warning("TcpStore store {0}: deleting {1} from a quorum failed; trying again", _name, failed.Key.Id);
            Timers.StartSingleTimer(RetryDelete.Instance, RetryDelete.Instance, _settings.RetryInterval);
        });
        Receive<RetryDelete>(_ => SendDeletes());
        Receive<StartAgain>(_ =>
        {
            if (!_dropping && !_finished) Start();
        });
        Receive<HandOff>(_ => Context.Stop(Self));
        ReceiveAny(message => _current?.Forward(message));
    }

    /// <summary>Any failure stops the store; a restart would keep its ref (see <see cref="StoreSingleton"/>).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void Start()
    {
        if (_current is not null || _maxQueueLength is not { } maxQueueLength) return;
        Timers.Cancel(StartAgain.Instance); // a probe came first
        _startedAt = Stopwatch.GetTimestamp();
        _current = Context.ActorOf(
            ReplicatedStoreActor.Props(new StoreLimits(maxQueueLength), _settings, _replicator, _name, _layout.Prefix),
            $"store-{++_incarnation}");
        Context.Watch(_current);
    }

    private void DeleteKeys()
    {
        foreach (var key in _layout.AllKeys) _undeleted.Add(key.Id);
        SendDeletes();
    }

    private void SendDeletes()
    {
        foreach (var key in _layout.AllKeys)
        {
            if (_undeleted.Contains(key.Id)) _replicator.Tell(Dsl.Delete(key, _settings.WriteQuorum, key.Id));
        }
    }

    private void Deleted(string key)
    {
        if (!_undeleted.Remove(key) || _undeleted.Count > 0) return;
        _log.Info("TcpStore store {0}: its replicated keys are deleted", _name);
        foreach (var dropper in _droppers) dropper.Tell(new StoreDropped(_entityId));
        _droppers.Clear();
        Context.Parent.Tell(new Passivate(HandOff.Instance));
    }
}

/// <summary>
/// A named store's way for its node's <see cref="StoreGateway"/> to find it: stands where the default store's
/// gateway has the singleton proxy, and turns each of the gateway's probes into a <see cref="FindStore"/> to the shard
/// region. A store created at run time is probed only once the catalog has committed it (<see cref="StoreCatalog"/>):
/// a store whose creation is undone never starts, and never writes a key.
/// </summary>
internal sealed class StoreLocator : ReceiveActor
{
    private readonly IActorRef _region;
    private readonly FindStore _find;
    private bool _active;

    public static Props Props(IActorRef region, string name, string incarnation, int maxQueueLength, bool active) =>
        global::Akka.Actor.Props.Create(() => new StoreLocator(region, name, incarnation, maxQueueLength, active));

    public StoreLocator(IActorRef region, string name, string incarnation, int maxQueueLength, bool active)
    {
        _region = region;
        _find = new FindStore($"{name}.{incarnation}", maxQueueLength);
        _active = active;
        Receive<GetStats>(_ =>
        {
            if (_active) _region.Tell(_find, Sender);
        });
        Receive<StoreCatalog.Activated>(_ => _active = true);
        if (!active)
        {
            // The locator's parent is the store's guardian, a child of the manager, whose child the catalog is.
            Context.ActorSelection(Self.Path.Parent.Parent / TcpStoreManager.CatalogName)
                .Tell(new StoreCatalog.AwaitActivation(name, incarnation));
        }
    }
}

/// <summary>A named store in cluster mode: its <see cref="StoreLocator"/> (<c>locator</c>) and its node's
/// <see cref="StoreGateway"/> (<c>store</c>), children of the store's guardian.</summary>
internal sealed class ShardedStoreProvider(IActorRef region, string name, string incarnation, int maxQueueLength, bool active,
    ClusterStoreSettings settings) : IStoreProvider
{
    public IActorRef CreateStore(IActorContext guardian, StoreMetrics metrics)
    {
        var locator = guardian.ActorOf(StoreLocator.Props(region, name, incarnation, maxQueueLength, active), "locator");
        return guardian.ActorOf(StoreGateway.Props(locator, settings, readiness: null, what: $"TcpStore store {name}"), "store");
    }
}
