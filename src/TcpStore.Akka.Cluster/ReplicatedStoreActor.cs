using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using TcpStore.Akka.Cluster.Replication;
using TcpStore.Akka.Store;
using TcpStore.Akka.Telemetry;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster;

/// <summary>
/// Cluster mode's store: the singleton that owns the <see cref="StoreEngine"/>, replicates every change to a quorum of
/// the store nodes with Akka.DistributedData, and lets no reply leave before the changes it may reveal are on a
/// quorum and a quorum has confirmed that this singleton has not been replaced (docs/CLUSTER.md).
/// </summary>
/// <remarks>
/// <para>
/// Taking over: read the highest <see cref="StoreEpoch"/> from a quorum and write the next one (ours) to a quorum;
/// then read the journal, then every bucket, from a quorum; rebuild the state (buckets, then the journal's groups
/// in stamp order over them); write it back to a quorum in our epoch (the journal first, then every bucket); serve.
/// </para>
/// <para>
/// Serving: each batch runs at once in the engine; its changes gather into the open group. One group at a time is
/// written, as one journal entry with <see cref="WriteTo"/> a quorum (group commit: everything that arrived while
/// the previous group was out goes in the next). Every message to a connection (a batch's replies, a STOP_WAITING)
/// is held, tagged with the latest change before it, until (a) every change up to its tag is on a quorum and (b) an
/// epoch read from a quorum that started after both that and the message itself still shows our epoch; one such
/// read serves every message held meanwhile (with <c>lease</c> set, such a read instead vouches for every message
/// released within the lease from its start, and a successor waits the lease out before it reads the state). A read
/// that shows another epoch means this singleton was replaced:
/// it tells its parent (<see cref="Fenced"/>) and stops, answering nothing more, so the connections it owed answers
/// close (<see cref="StoreGateway"/>, <see cref="StoreLost"/>). Confirmed groups are copied into the buckets in the
/// background (whenever the store is idle, or once the journal holds <c>journal-limit</c> changes), after which
/// the journal drops them.
/// </para>
/// <para>Waiter registrations are not replicated: they die with the singleton (docs/CLUSTER.md).</para>
/// </remarks>
internal sealed class ReplicatedStoreActor : ReceiveActor, IWithUnboundedStash, IWithTimers, IStoreChangeObserver
{
    /// <summary>Told to the parent just before this singleton stops because another one has taken over.</summary>
    public sealed record Fenced(StoreEpoch Ours, StoreEpoch Current);

    /// <summary>Told to the parent just before this store stops because its keys were deleted (the store was removed).</summary>
    public sealed record Deleted
    {
        public static readonly Deleted Instance = new();
    }

    // The request object of each replicator operation: which step its reply belongs to.
    private sealed record EpochRead;

    private sealed record EpochWrite;

    private sealed record JournalRead;

    private sealed record BucketRead(int Bucket);

    private sealed record JournalWriteBack;

    private sealed record BucketWriteBack(int Bucket);

    /// <summary>A group commit (or, with no entry, only a new watermark). <paramref name="Tag"/>: the latest change it covers.</summary>
    private sealed record JournalWrite(long Sequence, long Tag, JournalContent Content);

    /// <summary>
    /// An epoch read covering the messages held up to <paramref name="Step"/> and the changes up to <paramref name="Tag"/>;
    /// with a lease, one that succeeds also vouches for everything released until <paramref name="StartedAt"/> + lease.
    /// </summary>
    private sealed record Confirmation(long Step, long Tag, long Sequence, long StartedAt);

    /// <summary>With a lease: the wait after claiming an epoch, until every lease of a predecessor has run out.</summary>
    private sealed record PredecessorLeaseOver
    {
        public static readonly PredecessorLeaseOver Instance = new();
    }

    /// <summary>Copying the groups up to <paramref name="Through"/> into one bucket.</summary>
    private sealed record Materialization(long Through, int Bucket);

    private sealed record Retry(object Request);

    /// <summary>A message to a connection, held until <see cref="Confirmation"/> covers it.</summary>
    private readonly record struct Held(long Step, long Tag, IActorRef To, object Message);

    /// <summary>A sealed group kept until it is in the buckets.</summary>
    private sealed record Group(long Sequence, Stamp Stamp, Change[] Changes, long Bytes);

    /// <summary>The journal's size at which groups are copied into the buckets even while writes keep coming.</summary>
    private const long JournalByteLimit = 4 << 20;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ClusterStoreSettings _settings;
    private readonly IActorRef _replicator;
    private readonly ReplicaLayout _layout;
    private readonly global::Akka.Cluster.Cluster _cluster;
    private readonly StoreEngine _engine;
    private readonly StoreGauges _gauges;
    private readonly string _owner;
    private readonly string _what; // how the log names it: the singleton (the default store) or a named store
    private StoreEpoch _epoch = StoreEpoch.None;
    private int _failures;

    // Taking over.
    private readonly Stopwatch _recovery = Stopwatch.StartNew();
    private JournalContent _recoveredJournal = JournalContent.Empty;
    private readonly BucketContent?[] _recoveredBuckets;
    private readonly BucketContent?[] _writeBack;
    private int _pending;

    // Changes since the last sealed group: map entries by replica id (null value: deleted), and touched queues.
    private readonly Dictionary<string, byte[]?> _openEntries = [];
    private readonly HashSet<byte[]> _openQueues = new(ByteArrayComparer.Instance);

    private long _lastChange;      // tag of the latest change applied to the engine
    private long _sequence;        // sequence number of the latest sealed group
    private JournalWrite? _writing; // the journal write in flight
    private long _durableTag;      // every change up to this tag is on a quorum
    private long _durableSequence; // every group up to this one is on a quorum
    private Stamp _journalTruncated = Stamp.Zero;

    private readonly Queue<Held> _held = new();
    private readonly Dictionary<Address, IActorRef> _gateways = []; // other nodes' gateways: their replies go in batches
    private readonly Dictionary<IActorRef, List<Delivery>> _outgoing = [];
    private readonly Dictionary<IActorRef, long> _outgoingBytes = [];
    private long _step;            // held messages so far
    private bool _confirming;
    private long _confirmedStep, _confirmedTag, _confirmedSequence;
    private long _leaseUntil; // Stopwatch timestamp; with a lease, replies whose changes are durable leave until then

    private readonly Queue<Group> _unmaterialized = new();
    private long _unmaterializedChanges, _unmaterializedBytes;
    private readonly Dictionary<int, BucketContent> _materializing = [];
    private long _materializingThrough;
    private Stamp _materialized = Stamp.Zero;

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="limits">What the store may hold.</param>
    /// <param name="settings">Cluster mode's settings.</param>
    /// <param name="replicator">The DistributedData replicator of the store nodes.</param>
    /// <param name="store">A named store's name (its metrics' tag, its log lines); null: the default store, the singleton.</param>
    /// <param name="keyPrefix">The prefix of the store's replicated keys (<see cref="ReplicaLayout"/>).</param>
    public static Props Props(StoreLimits limits, ClusterStoreSettings settings, IActorRef replicator, string? store = null,
        string keyPrefix = ReplicaLayout.DefaultPrefix) =>
        global::Akka.Actor.Props.Create(() => new ReplicatedStoreActor(limits, settings, replicator, store, keyPrefix));

    public ReplicatedStoreActor(StoreLimits limits, ClusterStoreSettings settings, IActorRef replicator, string? store, string keyPrefix)
    {
        _settings = settings;
        _replicator = replicator;
        _layout = new ReplicaLayout(settings.Buckets, keyPrefix);
        _gauges = new StoreGauges(store ?? "default");
        _what = store is null ? "TcpStore singleton" : $"TcpStore store {store}";
        _cluster = global::Akka.Cluster.Cluster.Get(Context.System);
        _owner = $"{Self.Path.ToStringWithAddress(_cluster.SelfAddress)}#{Self.Path.Uid}";
        _recoveredBuckets = new BucketContent?[settings.Buckets];
        _writeBack = new BucketContent?[settings.Buckets];
        _engine = new StoreEngine(limits, connection => Hold(connection, WaitCompleted.Instance), _log, changes: this);
        TakingOver();
    }

    protected override void PreStart()
    {
        TcpStoreMetrics.Register(_gauges);
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberRemoved));
        _log.Info(_what + " starting on {0}: claiming the next epoch from a quorum of {1} of {2} store nodes",
            _cluster.SelfAddress, _settings.Quorum, _settings.StoreSize);
        Send(new EpochRead());
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        TcpStoreMetrics.Unregister(_gauges);
        if (_held.Count > 0)
            _log.Warning(_what + " stopped with {0} replies unconfirmed; their connections close", _held.Count);
    }

    // ---- Replicator operations: each request object says what to send again on a retry ----

    private void Send(object request)
    {
        switch (request)
        {
            case EpochRead:
                Read(_layout.EpochKey, request);
                break;
            case EpochWrite:
                var epoch = _epoch;
                _replicator.Tell(Dsl.Update(_layout.EpochKey, StoreEpoch.None, _settings.WriteQuorum, request, current => current.Merge(epoch)));
                break;
            case JournalRead:
                Read(_layout.JournalKey, request);
                break;
            case BucketRead read:
                Read(_layout.BucketKey(read.Bucket), request);
                break;
            case JournalWriteBack:
                WriteJournal(request, new JournalContent(_epoch, _recoveredJournal.TruncatedThrough, _recoveredJournal.Entries));
                break;
            case BucketWriteBack write:
                WriteBucket(request, write.Bucket, _writeBack[write.Bucket]!);
                break;
            case JournalWrite write:
                WriteJournal(request, write.Content);
                break;
            case Confirmation:
                Read(_layout.EpochKey, request);
                break;
            case Materialization write:
                WriteBucket(request, write.Bucket, _materializing[write.Bucket]);
                break;
            default:
                throw new InvalidOperationException($"Unknown replicator request {request}");
        }
    }

    private void Read<T>(IKey<T> key, object request) where T : IReplicatedData =>
        _replicator.Tell(Dsl.Get(key, _settings.ReadQuorum, request));

    private void WriteJournal(object request, JournalContent part) =>
        _replicator.Tell(Dsl.Update(_layout.JournalKey, StoreJournal.Empty, _settings.WriteQuorum, request, journal => journal.Write(part)));

    private void WriteBucket(object request, int bucket, BucketContent part) =>
        _replicator.Tell(Dsl.Update(_layout.BucketKey(bucket), StoreBucket.Empty, _settings.WriteQuorum, request, current => current.Write(part)));

    /// <summary>A quorum read or write failed (too few store nodes reachable, or too slow): the same again, a little later.</summary>
    private void Failed(object? request, string what)
    {
        if (request is null) throw Unexpected(request);
        _failures++;
        if ((_failures & (_failures - 1)) == 0) // 1, 2, 4, 8, ...: a quorum that stays away is not a log flood
            _log.Warning(_what + ": {0} a quorum of {1} of {2} store nodes failed ({3} in a row, {4}); trying again in {5} ms, {6} replies held",
                [what, _settings.Quorum, _settings.StoreSize, _failures, request.GetType().Name, _settings.RetryInterval.TotalMilliseconds, _held.Count]);
        Timers.StartSingleTimer(request, new Retry(request), _settings.RetryInterval);
    }

    private void Succeeded() => _failures = 0;

    /// <summary>A reply the store cannot have asked for, or a replicated value of the wrong type: a bug, never ignored.</summary>
    private static InvalidOperationException Unexpected(object? message) =>
        new($"Unexpected replicator reply to the TcpStore singleton: {message}");

    // ---- Taking over ----

    /// <summary>The store's keys were deleted: it was removed from the cluster (a late request woke it). Nothing to serve.</summary>
    private void KeysDeleted(DataDeleted deleted)
    {
        _log.Info(_what + " on {0}: its replicated state was deleted ({1}); the store was removed, stopping", _cluster.SelfAddress, deleted.Key);
        Context.Parent.Tell(Deleted.Instance);
        Context.Stop(Self);
    }

    private void TakingOver()
    {
        Receive<DataDeleted>(KeysDeleted);
        Receive<GetSuccess>(success => { Succeeded(); Recovered(success.Request, success.Data); });
        Receive<NotFound>(missing => { Succeeded(); Recovered(missing.Request, null); });
        Receive<GetFailure>(failure => Failed(failure.Request, "reading from"));
        Receive<UpdateSuccess>(success => { Succeeded(); WrittenBack(success.Request); });
        Receive<UpdateTimeout>(timeout => Failed(timeout.Request, "writing to"));
        Receive<IUpdateFailure>(failure => throw Unexpected(failure));
        Receive<Retry>(retry => Send(retry.Request));
        Receive<PredecessorLeaseOver>(_ => Send(new JournalRead()));
        ReceiveAny(_ => Stash.Stash());
    }

    private void Recovered(object? request, IReplicatedData? data)
    {
        switch (request)
        {
            case EpochRead:
                var previous = (StoreEpoch?)data ?? StoreEpoch.None;
                _epoch = new StoreEpoch(previous.Number + 1, _owner);
                Send(new EpochWrite());
                break;
            case JournalRead:
                // The journal before the buckets: a group copied into a bucket was in the journal when that
                // copy was made, so what the buckets show beyond the journal read here is never a partial group.
                _recoveredJournal = ((StoreJournal?)data)?.Content ?? JournalContent.Empty;
                _pending = _layout.Buckets;
                for (var bucket = 0; bucket < _layout.Buckets; bucket++) Send(new BucketRead(bucket));
                break;
            case BucketRead read:
                _recoveredBuckets[read.Bucket] = ((StoreBucket?)data)?.Content ?? BucketContent.Empty;
                if (--_pending == 0) Rebuild();
                break;
            default:
                throw Unexpected(request);
        }
    }

    private void WrittenBack(object? request)
    {
        switch (request)
        {
            case EpochWrite:
                if (_settings.Lease > TimeSpan.Zero)
                {
                    // A predecessor may answer from its state until its lease, taken before our claim, runs out
                    // (measured on its clock: a margin for the clocks' rates), and may write until then too.
                    var wait = _settings.Lease + _settings.Lease / 10 + TimeSpan.FromMilliseconds(50);
                    _log.Info(_what + " claimed {0}; reading the state back from a quorum once any predecessor's lease is over ({1} ms)",
                        _epoch, wait.TotalMilliseconds);
                    Timers.StartSingleTimer(PredecessorLeaseOver.Instance, PredecessorLeaseOver.Instance, wait);
                    break;
                }
                _log.Info(_what + " claimed {0}; reading the state back from a quorum", _epoch);
                Send(new JournalRead());
                break;
            case JournalWriteBack:
                _pending = _layout.Buckets;
                for (var bucket = 0; bucket < _layout.Buckets; bucket++) Send(new BucketWriteBack(bucket));
                break;
            case BucketWriteBack write:
                _writeBack[write.Bucket] = null;
                if (--_pending == 0) Serve();
                break;
            default:
                throw Unexpected(request);
        }
    }

    /// <summary>The state as the buckets hold it, with the journal's groups applied over it in stamp order.</summary>
    private void Rebuild()
    {
        // One map of every item, each in the bucket its id hashes to whatever bucket it was read from.
        var items = new Dictionary<string, Stamped>(StringComparer.Ordinal);
        foreach (var bucket in _recoveredBuckets)
        {
            foreach (var (id, item) in bucket!.Items)
            {
                if (!items.TryGetValue(id, out var current) || current.Stamp < item.Stamp) items[id] = item;
            }
        }
        foreach (var (stamp, changes) in _recoveredJournal.Entries)
        {
            foreach (var change in changes)
            {
                if (!items.TryGetValue(change.Id, out var current) || current.Stamp < stamp)
                    items[change.Id] = new Stamped(stamp, change.Value);
            }
        }

        var entries = new List<KeyValuePair<byte[], byte[]>>();
        var queues = new List<KeyValuePair<byte[], IReadOnlyList<byte[]>>>();
        var rewritten = new Stamp(_epoch.Number, 0);
        var live = Enumerable.Range(0, _layout.Buckets).Select(_ => new List<KeyValuePair<string, Stamped>>()).ToArray();
        foreach (var (id, item) in items)
        {
            if (item.Value is null) continue; // a tombstone: the new generation replaces the old one whole
            if (!ReplicaLayout.TryParseId(id, out var isEntry, out var key))
            {
                _log.Warning("Ignoring an unknown replicated item {0}", id);
                continue;
            }
            if (isEntry) entries.Add(new(key, item.Value));
            else queues.Add(new(key, ReplicaLayout.DecodeQueue(item.Value)));
            live[_layout.BucketOfId(id)].Add(new(id, new Stamped(rewritten, item.Value)));
        }
        for (var bucket = 0; bucket < _layout.Buckets; bucket++)
        {
            _writeBack[bucket] = BucketContent.Of(_epoch, live[bucket]);
            _recoveredBuckets[bucket] = null;
        }

        _engine.Load(entries, queues);
        var stats = _engine.Stats();
        _log.Info(_what + " read back {0} keys and {1} queues ({2} journal groups over {3} buckets) in {4} ms; " +
                  "writing them back to a quorum in {5}", stats.Keys, stats.Queues, _recoveredJournal.Entries.Count,
            _layout.Buckets, _recovery.ElapsedMilliseconds, _epoch);
        Send(new JournalWriteBack());
    }

    private void Serve()
    {
        var stats = _engine.Stats();
        _log.Info(_what + " serving on {0} in {1}: {2} keys and {3} queues on a quorum of {4} of {5} store nodes, taken over in {6} ms",
            [_cluster.SelfAddress, _epoch, stats.Keys, stats.Queues, _settings.Quorum, _settings.StoreSize, _recovery.ElapsedMilliseconds]);
        _journalTruncated = _recoveredJournal.TruncatedThrough;
        _materialized = new Stamp(_epoch.Number, 0); // every bucket now holds the whole state: the carried groups can go
        _recoveredJournal = JournalContent.Empty;
        _engine.PublishGauges(_gauges);
        Become(Serving);
        Stash.UnstashAll();
        AfterMessage();
    }

    // ---- Serving ----

    private void Serving()
    {
        Receive<DataDeleted>(KeysDeleted);
        Receive<Execute>(m =>
        {
            NoteGateway(m.Connection);
            Hold(m.Connection, _engine.Execute(m.Connection, m.Queries));
            AfterMessage();
        });
        Receive<ConnectionClosed>(m =>
        {
            _engine.Forget(m.Connection);
            _engine.PublishGauges(_gauges);
        });
        Receive<NodeRequests>(batch =>
        {
            foreach (var message in batch.Messages)
            {
                switch (message)
                {
                    case Execute m:
                        NoteGateway(m.Connection);
                        Hold(m.Connection, _engine.Execute(m.Connection, m.Queries));
                        break;
                    case ConnectionClosed m:
                        _engine.Forget(m.Connection);
                        break;
                    default:
                        throw new InvalidOperationException($"Unexpected message in a node's batch: {message}");
                }
            }
            AfterMessage();
        });
        Receive<UpdateSuccess>(success =>
        {
            Succeeded();
            switch (success.Request)
            {
                case JournalWrite write:
                    Committed(write);
                    break;
                case Materialization write:
                    Materialized(write);
                    break;
                default:
                    throw Unexpected(success);
            }
            AfterMessage();
        });
        Receive<UpdateTimeout>(timeout => Failed(timeout.Request, "writing to"));
        Receive<IUpdateFailure>(failure => throw Unexpected(failure));
        Receive<GetSuccess>(success =>
        {
            Succeeded();
            Confirmed(success.Request as Confirmation ?? throw Unexpected(success), (StoreEpoch)success.Data);
        });
        Receive<NotFound>(missing => Confirmed(missing.Request as Confirmation ?? throw Unexpected(missing), StoreEpoch.None));
        Receive<GetFailure>(failure =>
        {
            _confirming = false;
            Failed(failure.Request, "confirming our epoch with");
        });
        Receive<Retry>(retry =>
        {
            if (retry.Request is Confirmation) TryConfirm(); // a fresh round, covering everything held by now
            else Send(retry.Request);
        });
        Receive<ClusterEvent.MemberRemoved>(removed => ForgetNode(removed.Member.Address));
        Receive<GetStats>(_ => Sender.Tell(_engine.Stats() with { Host = _cluster.SelfAddress.ToString() }));
        Receive<GetWaiters>(m => Sender.Tell(_engine.ListWaiters(m)));
        Receive<GetBarriers>(m => Sender.Tell(_engine.ListBarriers(m)));
        Receive<ListEntries>(m => Sender.Tell(_engine.ListEntriesPage(m)));
        Receive<ListQueues>(m => Sender.Tell(_engine.ListQueueNames(m)));
    }

    void IStoreChangeObserver.EntryChanged(byte[] key, byte[]? value)
    {
        _openEntries[ReplicaLayout.EntryId(key)] = value;
        _lastChange++;
    }

    void IStoreChangeObserver.QueueChanged(byte[] name)
    {
        _openQueues.Add(name);
        _lastChange++;
    }

    /// <summary>Every message to a connection waits for a confirmation that covers it (see the remarks).</summary>
    private void Hold(IActorRef connection, object message) => _held.Enqueue(new Held(++_step, _lastChange, connection, message));

    private void AfterMessage()
    {
        _engine.PublishGauges(_gauges);
        TryCommit();
        Release();
        TryConfirm();
        TryMaterialize();
    }

    private bool LeaseValid => _settings.Lease > TimeSpan.Zero && Stopwatch.GetTimestamp() < _leaseUntil;

    /// <summary>
    /// Sends the held messages that may leave, in the order they were produced: their changes are on a quorum, and
    /// either an epoch read started after both them and those changes still showed ours, or a lease is valid now.
    /// </summary>
    private void Release()
    {
        var lease = LeaseValid;
        if (lease) _confirmedSequence = Math.Max(_confirmedSequence, _durableSequence);
        while (_held.TryPeek(out var held) && held.Tag <= _durableTag &&
               (lease || (held.Step <= _confirmedStep && held.Tag <= _confirmedTag)))
        {
            _held.Dequeue();
            if (!_gateways.TryGetValue(held.To.Path.Address, out var gateway))
            {
                held.To.Tell(held.Message, Self);
                continue;
            }
            if (!_outgoing.TryGetValue(gateway, out var deliveries)) _outgoing[gateway] = deliveries = [];
            deliveries.Add(new Delivery(held.To, held.Message));
            var bytes = _outgoingBytes[gateway] = _outgoingBytes.GetValueOrDefault(gateway) + NodeBatch.SizeOf(held.Message);
            if (bytes >= NodeBatch.MaxBytes) SendReplies(gateway, deliveries);
        }
        foreach (var (gateway, deliveries) in _outgoing)
        {
            if (deliveries.Count > 0) SendReplies(gateway, deliveries);
        }
    }

    /// <summary>The replies for one other node's connections: one message to its gateway, or the reply itself when alone.</summary>
    private void SendReplies(IActorRef gateway, List<Delivery> deliveries)
    {
        if (deliveries.Count == 1) deliveries[0].Connection.Tell(deliveries[0].Message, Self);
        else gateway.Tell(new NodeReplies(deliveries.ToArray()), Self);
        deliveries.Clear();
        _outgoingBytes[gateway] = 0;
    }

    /// <summary>A request that came from another node's gateway (its sender) tells where that node's replies can go.</summary>
    private void NoteGateway(IActorRef connection)
    {
        var sender = Sender;
        if (!sender.Equals(connection) && !sender.IsNobody() && !connection.Path.Address.Equals(Self.Path.Address))
            _gateways[connection.Path.Address] = sender;
    }

    private bool Idle => _writing is null && _openEntries.Count == 0 && _openQueues.Count == 0;

    /// <summary>Seals the open changes into the next group and writes it, unless a journal write is out.</summary>
    private void TryCommit()
    {
        if (_writing is not null) return;
        if (_openEntries.Count == 0 && _openQueues.Count == 0)
        {
            // Idle: tell the journal which groups the buckets now hold, so that it can drop them.
            if (_journalTruncated < _materialized)
                Send(_writing = new JournalWrite(_sequence, _durableTag, new JournalContent(_epoch, _materialized, JournalContent.Empty.Entries)));
            return;
        }

        var changes = new Change[_openEntries.Count + _openQueues.Count];
        var i = 0;
        long bytes = 0;
        foreach (var (id, value) in _openEntries)
        {
            changes[i++] = new Change(id, value);
            bytes += id.Length + (value?.Length ?? 0);
        }
        foreach (var name in _openQueues)
        {
            var items = _engine.QueueItems(name);
            var value = items.Count == 0 ? null : ReplicaLayout.EncodeQueue(items);
            changes[i++] = new Change(ReplicaLayout.QueueId(name), value);
            bytes += name.Length + 1 + (value?.Length ?? 0);
        }
        _openEntries.Clear();
        _openQueues.Clear();

        var stamp = new Stamp(_epoch.Number, ++_sequence);
        _unmaterialized.Enqueue(new Group(_sequence, stamp, changes, bytes));
        _unmaterializedChanges += changes.Length;
        _unmaterializedBytes += bytes;
        Send(_writing = new JournalWrite(_sequence, _lastChange, JournalContent.Group(_epoch, stamp, changes, _materialized)));
    }

    private void Committed(JournalWrite write)
    {
        if (!ReferenceEquals(write, _writing)) throw Unexpected(write);
        _writing = null;
        _durableTag = Math.Max(_durableTag, write.Tag);
        _durableSequence = Math.Max(_durableSequence, write.Sequence);
        _journalTruncated = Stamp.Max(_journalTruncated, write.Content.TruncatedThrough);
    }

    /// <summary>
    /// Starts an epoch read when held messages or groups wait for one that covers them, or, with a lease, when the
    /// store is busy and half the lease has gone.
    /// </summary>
    private void TryConfirm()
    {
        if (_confirming) return;
        var needed = (_held.TryPeek(out var head) && head.Tag <= _durableTag && (head.Step > _confirmedStep || head.Tag > _confirmedTag))
                     || _confirmedSequence < _durableSequence;
        if (needed && LeaseValid)
            needed = _held.Count > 0 && Stopwatch.GetTimestamp() > _leaseUntil - LeaseTicks / 2; // renew before it runs out
        if (!needed) return;
        _confirming = true;
        Send(new Confirmation(_step, _durableTag, _durableSequence, Stopwatch.GetTimestamp()));
    }

    private long LeaseTicks => (long)(_settings.Lease.TotalSeconds * Stopwatch.Frequency);

    private void Confirmed(Confirmation round, StoreEpoch current)
    {
        _confirming = false;
        if (!current.Equals(_epoch))
        {
            Fence(current);
            return;
        }

        _confirmedStep = Math.Max(_confirmedStep, round.Step);
        _confirmedTag = Math.Max(_confirmedTag, round.Tag);
        _confirmedSequence = Math.Max(_confirmedSequence, round.Sequence);
        // From the read's start, not its end: a successor's claim after that start is what the lease must precede.
        if (_settings.Lease > TimeSpan.Zero) _leaseUntil = Math.Max(_leaseUntil, round.StartedAt + LeaseTicks);
        AfterMessage();
    }

    /// <summary>Another singleton has claimed a later epoch: answer nothing more (docs/CLUSTER.md, "Fencing").</summary>
    private void Fence(StoreEpoch current)
    {
        _log.Warning(_what + " on {0} replaced: a quorum shows {1}, ours is {2}. Stopping; the {3} replies it held " +
                     "are dropped and their connections close", _cluster.SelfAddress, current, _epoch, _held.Count);
        Context.Parent.Tell(new Fenced(_epoch, current));
        Context.Stop(Self);
    }

    /// <summary>Copies the confirmed groups into the buckets: when idle, or once the journal holds enough.</summary>
    private void TryMaterialize()
    {
        if (_materializing.Count > 0 || !_unmaterialized.TryPeek(out var first) || first.Sequence > _confirmedSequence) return;
        if (!Idle && _unmaterializedChanges < _settings.JournalLimit && _unmaterializedBytes < JournalByteLimit) return;

        var byBucket = new Dictionary<int, Dictionary<string, Stamped>>();
        while (_unmaterialized.TryPeek(out var group) && group.Sequence <= _confirmedSequence)
        {
            _unmaterialized.Dequeue();
            _unmaterializedChanges -= group.Changes.Length;
            _unmaterializedBytes -= group.Bytes;
            _materializingThrough = group.Sequence;
            foreach (var change in group.Changes)
            {
                var bucket = _layout.BucketOfId(change.Id);
                if (!byBucket.TryGetValue(bucket, out var items)) byBucket[bucket] = items = new Dictionary<string, Stamped>(StringComparer.Ordinal);
                items[change.Id] = new Stamped(group.Stamp, change.Value); // later groups overwrite earlier ones
            }
        }

        foreach (var (bucket, items) in byBucket)
        {
            _materializing[bucket] = BucketContent.Of(_epoch, items);
            Send(new Materialization(_materializingThrough, bucket));
        }
    }

    private void Materialized(Materialization write)
    {
        if (!_materializing.Remove(write.Bucket)) throw Unexpected(write);
        if (_materializing.Count == 0) _materialized = Stamp.Max(_materialized, new Stamp(_epoch.Number, write.Through));
    }

    /// <summary>A node left the cluster: the WAITs of its connections can never be answered.</summary>
    private void ForgetNode(Address node)
    {
        if (_gateways.Remove(node, out var gateway))
        {
            _outgoing.Remove(gateway);
            _outgoingBytes.Remove(gateway);
        }
        var lost = _engine.WaitingConnections.Where(c => c.Path.Address.Equals(node)).ToList();
        foreach (var connection in lost) _engine.Forget(connection);
        if (lost.Count > 0)
            _log.Info("Node {0} left: forgot the WAITs of its {1} connections", node, lost.Count);
        _engine.PublishGauges(_gauges);
    }
}
