using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;
using static TcpStore.Akka.Store.StoreProtocol;
using Bucket = Akka.DistributedData.LWWDictionary<string, byte[]>;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// Cluster mode's store: the cluster singleton that owns the <see cref="StoreEngine"/> and makes every change
/// durable on a majority of the store nodes (Akka.DistributedData, <see cref="WriteMajority"/>) before any reply
/// that could reveal it leaves. It starts by reading the whole state back from a majority
/// (<see cref="ReadMajority"/>), so a successor serves everything its predecessor acknowledged.
/// </summary>
/// <remarks>
/// <para>
/// The guarantee (docs/CLUSTER.md): a change is replicated before any reply sent after it. Every message this actor
/// sends to a connection (a batch's replies, a STOP_WAITING) is tagged with the sequence number of the latest
/// change made so far; it leaves when a majority holds every change up to its tag, in the order it was produced.
/// A reply that follows no unreplicated change leaves at once. Writes are group-committed: while one write is out,
/// the changes of every batch executed meanwhile gather into the next, so the cost of the majority round trip is
/// shared by all connections.
/// </para>
/// <para>
/// Waiter registrations are not replicated: they die with the singleton, and every node closes its connections that
/// had a WAIT or a batch outstanding at that moment (<see cref="StoreGateway"/>, <see cref="StoreLost"/>).
/// </para>
/// </remarks>
internal sealed class ReplicatedStoreActor : ReceiveActor, IWithUnboundedStash, IStoreChangeObserver
{
    /// <summary>A write of one bucket's changes; the request object of its <see cref="Update"/>.</summary>
    private sealed record BucketWrite(long Sequence, int Bucket, KeyValuePair<string, byte[]?>[] Changes);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterStoreSettings _settings;
    private readonly IActorRef _replicator;
    private readonly ReplicaLayout _layout;
    private readonly global::Akka.Cluster.Cluster _cluster;
    private readonly StoreEngine _engine;
    private readonly StoreGauges _gauges = new();

    // Changes not yet sent to the replicator: map entries by replica id (null value: deleted), and dirty queues.
    private readonly Dictionary<string, (int Bucket, byte[]? Value)> _dirtyEntries = [];
    private readonly HashSet<byte[]> _dirtyQueues = new(ByteArrayComparer.Instance);

    // Messages to connections held until the changes they may reveal are on a majority, oldest first.
    private readonly Queue<(long Tag, IActorRef To, object Message)> _held = new();

    private long _lastChange;   // sequence number of the latest change applied to the engine
    private long _durable;      // every change up to this one is on a majority
    private long _writing;      // the sequence number the write in flight covers; 0 when none is
    private readonly Dictionary<int, BucketWrite> _pendingBuckets = [];

    // Recovery: the buckets read back so far.
    private readonly Stopwatch _recovery = Stopwatch.StartNew();
    private readonly List<KeyValuePair<byte[], byte[]>> _recoveredEntries = [];
    private readonly List<KeyValuePair<byte[], IReadOnlyList<byte[]>>> _recoveredQueues = [];
    private int _bucketsToRead;

    public IStash Stash { get; set; } = null!;

    public static Props Props(StoreLimits limits, ClusterStoreSettings settings, IActorRef replicator) =>
        global::Akka.Actor.Props.Create(() => new ReplicatedStoreActor(limits, settings, replicator));

    public ReplicatedStoreActor(StoreLimits limits, ClusterStoreSettings settings, IActorRef replicator)
    {
        _settings = settings;
        _replicator = replicator;
        _layout = new ReplicaLayout(settings.Buckets);
        _cluster = global::Akka.Cluster.Cluster.Get(Context.System);
        _engine = new StoreEngine(limits, connection => Send(connection, WaitCompleted.Instance), _log, changes: this);
        Recovering();
    }

    protected override void PreStart()
    {
        TcpStoreMetrics.Register(_gauges);
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
        _bucketsToRead = _layout.Buckets;
        for (var bucket = 0; bucket < _layout.Buckets; bucket++) Read(bucket);
        _log.Info("TcpStore singleton starting on {0}: reading {1} buckets back from a majority", _cluster.SelfAddress, _layout.Buckets);
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        TcpStoreMetrics.Unregister(_gauges);
        if (_held.Count > 0)
            _log.Warning("TcpStore singleton stopped with {0} replies held for replication; their connections close", _held.Count);
    }

    private void Read(int bucket) =>
        _replicator.Tell(Dsl.Get(_layout.BucketKey(bucket), new ReadMajority(_settings.ReadTimeout), bucket));

    private void Recovering()
    {
        Receive<GetSuccess>(success =>
        {
            var bucket = (int)success.Request!;
            foreach (var (id, value) in success.Get(_layout.BucketKey(bucket)))
            {
                if (!ReplicaLayout.TryParseId(id, out var isEntry, out var key))
                {
                    _log.Warning("Ignoring an unknown replicated entry {0} in bucket {1}", id, bucket);
                    continue;
                }
                if (isEntry) _recoveredEntries.Add(new(key, value));
                else _recoveredQueues.Add(new(key, ReplicaLayout.DecodeQueue(value)));
            }
            BucketRead();
        });
        Receive<NotFound>(_ => BucketRead());
        Receive<GetFailure>(failure =>
        {
            _log.Warning("Reading bucket {0} from a majority timed out after {1}; asking again", failure.Request, _settings.ReadTimeout);
            Read((int)failure.Request!);
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void BucketRead()
    {
        if (--_bucketsToRead > 0) return;
        _engine.Load(_recoveredEntries, _recoveredQueues);
        var stats = _engine.Stats();
        _log.Info("TcpStore singleton serving on {0}: {1} keys and {2} queues read back from a majority in {3} ms",
            _cluster.SelfAddress, stats.Keys, stats.Queues, _recovery.ElapsedMilliseconds);
        _recoveredEntries.Clear();
        _recoveredQueues.Clear();
        _engine.PublishGauges(_gauges);
        Become(Serving);
        Stash.UnstashAll();
    }

    private void Serving()
    {
        Receive<Execute>(m =>
        {
            Send(m.Connection, _engine.Execute(m.Connection, m.Queries));
            AfterMessage();
        });
        Receive<ConnectionClosed>(m =>
        {
            _engine.Forget(m.Connection);
            _engine.PublishGauges(_gauges);
        });
        Receive<UpdateSuccess>(success => Written((BucketWrite)success.Request!));
        Receive<IUpdateFailure>(failure =>
        {
            // Not on a majority in time (or, never expected, the replicator refused it): the local replica has it,
            // so write the same changes again. The replies that depend on them stay held meanwhile.
            var write = (BucketWrite)failure.Request!;
            if (write.Sequence != _writing) return;
            _log.Warning("Replicating {0} changes of bucket {1} to a majority failed ({2}); retrying, {3} replies held",
                write.Changes.Length, write.Bucket, failure.GetType().Name, _held.Count);
            Write(write);
        });
        Receive<ClusterEvent.MemberRemoved>(removed => ForgetNode(removed.Member.Address));
        Receive<GetStats>(_ => Sender.Tell(_engine.Stats()));
        Receive<GetWaiters>(m => Sender.Tell(_engine.ListWaiters(m)));
        Receive<GetBarriers>(m => Sender.Tell(_engine.ListBarriers(m)));
        Receive<ListEntries>(m => Sender.Tell(_engine.ListEntriesPage(m)));
        Receive<ListQueues>(m => Sender.Tell(_engine.ListQueueNames(m)));
    }

    void IStoreChangeObserver.EntryChanged(byte[] key, byte[]? value)
    {
        _dirtyEntries[ReplicaLayout.EntryId(key)] = (_layout.BucketOf(key), value);
        _lastChange++;
    }

    void IStoreChangeObserver.QueueChanged(byte[] name)
    {
        _dirtyQueues.Add(name);
        _lastChange++;
    }

    /// <summary>Sends now when nothing unreplicated precedes it, else holds it until that is on a majority.</summary>
    private void Send(IActorRef connection, object message)
    {
        if (_lastChange == _durable) connection.Tell(message, Self); // nothing is held either (see Release)
        else _held.Enqueue((_lastChange, connection, message));
    }

    private void AfterMessage()
    {
        _engine.PublishGauges(_gauges);
        if (_writing == 0) StartWrite();
    }

    /// <summary>Sends every gathered change to the replicator: one write per bucket touched.</summary>
    private void StartWrite()
    {
        if (_dirtyEntries.Count == 0 && _dirtyQueues.Count == 0) return;
        var byBucket = new Dictionary<int, List<KeyValuePair<string, byte[]?>>>();
        foreach (var (id, (bucket, value)) in _dirtyEntries) Add(bucket, id, value);
        foreach (var name in _dirtyQueues)
        {
            var items = _engine.QueueItems(name);
            Add(_layout.BucketOf(name), ReplicaLayout.QueueId(name), items.Count == 0 ? null : ReplicaLayout.EncodeQueue(items));
        }
        _dirtyEntries.Clear();
        _dirtyQueues.Clear();

        _writing = _lastChange;
        foreach (var (bucket, changes) in byBucket)
        {
            var write = new BucketWrite(_writing, bucket, changes.ToArray());
            _pendingBuckets[bucket] = write;
            Write(write);
        }

        void Add(int bucket, string id, byte[]? value)
        {
            if (!byBucket.TryGetValue(bucket, out var changes)) byBucket[bucket] = changes = [];
            changes.Add(new(id, value));
        }
    }

    private void Write(BucketWrite write)
    {
        var self = _cluster.SelfUniqueAddress;
        var changes = write.Changes;
        // The modify function runs in the replicator; it reads only this write's own immutable array.
        _replicator.Tell(Dsl.Update(_layout.BucketKey(write.Bucket), Bucket.Empty,
            new WriteMajority(_settings.WriteTimeout), write, bucket =>
            {
                foreach (var (id, value) in changes)
                    bucket = value is null ? bucket.Remove(self, id) : bucket.SetItem(self, id, value);
                return bucket;
            }));
    }

    private void Written(BucketWrite write)
    {
        if (write.Sequence != _writing || !_pendingBuckets.Remove(write.Bucket)) return;
        if (_pendingBuckets.Count > 0) return;
        _durable = _writing;
        _writing = 0;
        Release();
        StartWrite();
    }

    /// <summary>Sends the held messages whose changes are now on a majority, in the order they were produced.</summary>
    private void Release()
    {
        while (_held.TryPeek(out var held) && held.Tag <= _durable)
        {
            _held.Dequeue();
            held.To.Tell(held.Message, Self);
        }
    }

    /// <summary>A node left the cluster: the WAITs of its connections can never be answered.</summary>
    private void ForgetNode(Address node)
    {
        var lost = _engine.WaitingConnections.Where(c => c.Path.Address.Equals(node)).ToList();
        foreach (var connection in lost) _engine.Forget(connection);
        if (lost.Count > 0)
            _log.Info("Node {0} left: forgot the WAITs of its {1} connections", node, lost.Count);
        _engine.PublishGauges(_gauges);
    }
}
