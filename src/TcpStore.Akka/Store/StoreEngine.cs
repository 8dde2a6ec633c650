using Akka.Actor;
using Akka.Event;
using TcpStore.Protocol;
using TcpStore.Akka.Telemetry;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Store;

/// <summary>
/// What a store changes, reported as it happens so that a replicating owner (cluster mode) can make the change
/// durable before any reply reveals it. Standalone mode has no observer and pays one null check per change.
/// </summary>
internal interface IStoreChangeObserver
{
    /// <summary>The map entry <paramref name="key"/> now holds <paramref name="value"/>; null when it was deleted.</summary>
    void EntryChanged(byte[] key, byte[]? value);

    /// <summary>The queue <paramref name="name"/> gained or lost an item (read it with <see cref="StoreEngine.QueueItems"/>).</summary>
    void QueueChanged(byte[] name);
}

/// <summary>
/// The key/value map, the queues and the waiter lists, with every query's semantics (docs/PROTOCOL.md §2, §3),
/// but no actor: exactly one actor owns an engine and calls it from its message handlers, so no locking is needed.
/// <see cref="StoreActor"/> owns it in standalone mode; cluster mode's replicating singleton owns it there. It never
/// blocks and has no timers; WAITs have no server-side timeout (the client sends CANCEL_WAIT).
/// </summary>
internal sealed class StoreEngine
{
    /// <summary>One outstanding WAIT (or BARRIER) of one connection.</summary>
    private sealed class Waiter(IActorRef connection, long barrierWorldSize = 0)
    {
        public readonly IActorRef Connection = connection;

        /// <summary>The world size of the BARRIER this waiter arrived at; 0 for a WAIT.</summary>
        public readonly long BarrierWorldSize = barrierWorldSize;

        /// <summary>Live registrations left; always equal to the live nodes in <see cref="Registrations"/>.</summary>
        public int Remaining;

        /// <summary>Every registration this WAIT made, so that forgetting the connection costs O(its keys).
        /// A node whose <c>List</c> is null has already been consumed by a wake.</summary>
        public readonly List<(byte[] Key, LinkedListNode<Waiter> Node)> Registrations = [];

        /// <summary>The replies of the batch that registered this WAIT while that batch runs (null afterwards),
        /// so that a wake within the same batch replaces the <see cref="Reply.WaitPending"/> in place.</summary>
        public List<Reply>? BatchReplies;

        public int PendingIndex;
    }

    private static readonly byte[] Empty = [];

    private readonly StoreLimits _limits;
    private readonly Action<IActorRef> _waitCompleted;
    private readonly IStoreChangeObserver? _changes;
    private readonly Action<Query>? _faultInjector;
    private readonly ILoggingAdapter _log;
    private readonly StoreMetrics _metrics;

    private readonly Dictionary<byte[], byte[]> _kv = new(ByteArrayComparer.Instance);
    private readonly Dictionary<byte[], Queue<byte[]>> _queues = new(ByteArrayComparer.Instance); // never holds an empty queue
    private readonly Dictionary<byte[], LinkedList<Waiter>> _waiters = new(ByteArrayComparer.Instance); // never holds an empty list
    private readonly Dictionary<IActorRef, Waiter> _waiting = [];

    private long _storedBytes;
    private long _queueItems;
    private int _registrations;

    // The batch being executed; null between batches.
    private List<Reply>? _currentReplies;

    /// <param name="limits">What the store may hold.</param>
    /// <param name="waitCompleted">Called when a deferred WAIT of a connection is satisfied by a later batch.</param>
    /// <param name="log">Where internal errors are logged.</param>
    /// <param name="changes">Told of every change to the map and the queues; null when nobody replicates them.</param>
    /// <param name="faultInjector">Test hook: runs before each query and may throw.</param>
    /// <param name="metrics">Where operations are counted; the default store's when null.</param>
    public StoreEngine(
        StoreLimits limits,
        Action<IActorRef> waitCompleted,
        ILoggingAdapter log,
        IStoreChangeObserver? changes = null,
        Action<Query>? faultInjector = null,
        StoreMetrics? metrics = null)
    {
        _metrics = metrics ?? TcpStoreMetrics.Unmanaged;
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfNegative(limits.MaxQueueLength);
        _limits = limits;
        _waitCompleted = waitCompleted;
        _log = log;
        _changes = changes;
        _faultInjector = faultInjector;
    }

    /// <summary>
    /// Runs a batch of queries of one connection, in order, and returns its replies. A WAIT that cannot be answered
    /// yet leaves a <see cref="Reply.WaitPending"/>; its completion is reported later through the wake callback.
    /// </summary>
    public Executed Execute(IActorRef connection, IReadOnlyList<Query> queries)
    {
        // One list per batch: it escapes in Executed. Most queries have one reply (MULTI_GET has one too).
        var replies = new List<Reply>(queries.Count);
        _currentReplies = replies;
        Rejection? rejection = null;
        try
        {
            for (var i = 0; i < queries.Count && rejection is null; i++)
            {
                var query = queries[i];
                try
                {
                    _metrics.Operation(query.Type);
                    _faultInjector?.Invoke(query);
                    rejection = ExecuteOne(connection, query, replies);
                }
                catch (Exception e)
                {
                    _log.Error(e, "Internal error executing {0} for {1}; rejecting that connection", query.Type, connection);
                    rejection = new Rejection(query.Type, RejectionReasons.InternalError, $"{e.GetType().Name}: {e.Message}");
                }
            }

            if (rejection is not null)
            {
                // Nothing of the refused query was stored; the connection will be closed, so forget its WAIT.
                Forget(connection);
                if (rejection.Reason != RejectionReasons.InternalError)
                    _log.Debug("Rejected {0} from {1}: {2} ({3})", rejection.Query, connection, rejection.Reason, rejection.Detail);
            }
            else if (_waiting.TryGetValue(connection, out var waiter))
            {
                // The replies list is about to escape; never touch it (nor keep its values alive) afterwards.
                waiter.BatchReplies = null;
            }
        }
        finally
        {
            _currentReplies = null;
        }

        return new Executed(replies, rejection);
    }

    /// <returns>A rejection, or null when the query ran; a rejected query has changed nothing.</returns>
    private Rejection? ExecuteOne(IActorRef connection, Query query, List<Reply> replies)
    {
        switch (query)
        {
            case Query.Set q:
                Put(q.Key, q.Value);
                WakeAll(q.Key);
                return null;

            case Query.Get q:
                replies.Add(new Reply.Bytes(_kv.GetValueOrDefault(q.Key, Empty)));
                return null;

            case Query.CompareSet q:
                replies.Add(new Reply.Bytes(CompareSet(q)));
                return null;

            case Query.Add q:
                return Add(q, replies);

            case Query.Check q:
                replies.Add(IsReady(q.Keys) ? Reply.CheckResult.ReadyReply : Reply.CheckResult.NotReadyReply);
                return null;

            case Query.Wait q:
                return Wait(connection, q, replies);

            case Query.Barrier q:
                return Barrier(connection, q, replies);

            case Query.GetNumKeys:
                replies.Add(new Reply.Integer(_kv.Count));
                return null;

            case Query.DeleteKey q:
                // Never wakes (docs/PROTOCOL.md §2.10): a waiter counts a key once it was set, even if it is deleted later.
                if (_kv.Remove(q.Key, out var removed))
                {
                    _storedBytes -= q.Key.Length + removed.Length;
                    _changes?.EntryChanged(q.Key, null);
                    replies.Add(new Reply.Integer(1));
                }
                else
                {
                    replies.Add(new Reply.Integer(0));
                }
                return null;

            case Query.Append q:
                Put(q.Key, _kv.TryGetValue(q.Key, out var current) ? Concat(current, q.Value) : q.Value);
                WakeAll(q.Key);
                return null;

            case Query.MultiGet q:
            {
                var values = new byte[q.Keys.Count][];
                for (var i = 0; i < values.Length; i++)
                    values[i] = _kv.GetValueOrDefault(q.Keys[i], Empty);
                replies.Add(new Reply.MultiBytes(values));
                return null;
            }

            case Query.MultiSet q:
                // docs/PROTOCOL.md §6.4: every pair is stored before anyone is woken, so a woken waiter sees them all.
                for (var i = 0; i < q.Pairs.Count; i++)
                    Put(q.Pairs[i].Key, q.Pairs[i].Value);
                for (var i = 0; i < q.Pairs.Count; i++)
                    WakeAll(q.Pairs[i].Key);
                return null;

            case Query.CancelWait:
                Forget(connection);
                replies.Add(Reply.WaitCanceled.Instance);
                return null;

            case Query.Ping q:
                replies.Add(new Reply.Pong(q.Nonce));
                return null;

            case Query.QueuePush q:
                return QueuePush(q);

            case Query.QueuePop q:
                replies.Add(QueuePop(q.Key));
                return null;

            case Query.QueueLen q:
                replies.Add(new Reply.Integer(_queues.TryGetValue(q.Key, out var queue) ? queue.Count : 0));
                return null;

            case Query.ListKeys:
            {
                var keys = new byte[_kv.Count][];
                _kv.Keys.CopyTo(keys, 0);
                replies.Add(new Reply.KeyList(keys));
                return null;
            }

            default:
                throw new InvalidOperationException($"Unknown query {query.GetType().Name}");
        }
    }

    private void Put(byte[] key, byte[] value)
    {
        // Values are never mutated in place: replies already sent may share these arrays.
        if (_kv.TryGetValue(key, out var old))
            _storedBytes += value.Length - old.Length;
        else
            _storedBytes += key.Length + value.Length;
        _kv[key] = value;
        _changes?.EntryChanged(key, value);
    }

    private static byte[] Concat(byte[] a, byte[] b)
    {
        var result = new byte[a.Length + b.Length];
        a.CopyTo(result, 0);
        b.CopyTo(result, a.Length);
        return result;
    }

    /// <summary>The four cases of docs/PROTOCOL.md §2.4; wakes only when a value was stored (docs/PROTOCOL.md §6.2).</summary>
    private byte[] CompareSet(Query.CompareSet q)
    {
        if (!_kv.TryGetValue(q.Key, out var current))
        {
            if (q.Expected.Length != 0)
                return q.Expected; // libuv "lies to the caller" and stores nothing; we also wake nobody.
        }
        else if (!current.AsSpan().SequenceEqual(q.Expected))
        {
            return current;
        }

        Put(q.Key, q.Desired);
        WakeAll(q.Key);
        return q.Desired;
    }

    private Rejection? Add(Query.Add q, List<Reply> replies)
    {
        long result;
        if (_kv.TryGetValue(q.Key, out var current))
        {
            if (!DecimalValue.TryParse(current, out var stored, out var reason))
            {
                var detail = reason == DecimalValue.OutOfRange
                    ? "the stored value is outside the int64 range"
                    : "the stored value is not a decimal integer";
                return new Rejection(QueryType.Add, reason, detail);
            }
            result = unchecked(stored + q.Delta); // like PyTorch: signed overflow is not checked
        }
        else
        {
            result = q.Delta;
        }

        Put(q.Key, DecimalValue.Format(result));
        WakeAll(q.Key);
        replies.Add(new Reply.Integer(result));
        return null;
    }

    /// <summary>
    /// BARRIER (docs/PROTOCOL.md §2.20), as PyTorch's servers run it: the arrival is counted in the key itself, parsed
    /// and written as ADD does, but without waking anyone; the arrival that brings the count to its world size is
    /// answered at once and wakes every waiter of the key, the barrier's and plain WAITs alike. An earlier arrival
    /// waits, registered under the key like a WAIT, so CANCEL_WAIT, a close, and any write that wakes the key (SET,
    /// ADD, APPEND, MULTI_SET, a COMPARE_SET that stores) release it as they would a WAIT.
    /// </summary>
    private Rejection? Barrier(IActorRef connection, Query.Barrier q, List<Reply> replies)
    {
        if (_waiting.ContainsKey(connection))
            return new Rejection(QueryType.Barrier, RejectionReasons.WaitAlreadyPending, "a WAIT or BARRIER of this connection is already outstanding");

        long count = 1;
        if (_kv.TryGetValue(q.Key, out var current))
        {
            if (!DecimalValue.TryParse(current, out var stored, out var reason))
            {
                return reason == DecimalValue.OutOfRange
                    ? new Rejection(QueryType.Barrier, RejectionReasons.BarrierOutOfRange, "the stored count is outside the int64 range")
                    : new Rejection(QueryType.Barrier, RejectionReasons.BarrierNotANumber, "the stored count is not a decimal integer");
            }
            count = unchecked(stored + 1); // like PyTorch: signed overflow is not checked
        }

        Put(q.Key, DecimalValue.Format(count));
        if (count >= q.WorldSize)
        {
            replies.Add(Reply.StopWaiting.Instance);
            WakeAll(q.Key);
            return null;
        }

        var waiter = new Waiter(connection, q.WorldSize);
        _waiting.Add(connection, waiter);
        Register(waiter, q.Key);
        waiter.BatchReplies = replies;
        waiter.PendingIndex = replies.Count;
        replies.Add(Reply.WaitPending.Instance);
        return null;
    }

    /// <summary>CHECK: every key is in the map or names a non-empty queue (docs/PROTOCOL.md §2.7).</summary>
    private bool IsReady(IReadOnlyList<byte[]> keys)
    {
        for (var i = 0; i < keys.Count; i++)
        {
            if (!_kv.ContainsKey(keys[i]) && !_queues.ContainsKey(keys[i]))
                return false;
        }
        return true;
    }

    private Rejection? Wait(IActorRef connection, Query.Wait q, List<Reply> replies)
    {
        // libuv overwrites the counter of an outstanding WAIT and keeps its registrations, which can never be
        // answered correctly; the official client never sends a second WAIT before the first is answered or
        // canceled, so we treat it as a broken client.
        if (_waiting.ContainsKey(connection))
            return new Rejection(QueryType.Wait, RejectionReasons.WaitAlreadyPending, "a WAIT of this connection is already outstanding");

        if (IsReady(q.Keys))
        {
            replies.Add(Reply.StopWaiting.Instance);
            return null;
        }

        // Register under every key absent from the map (docs/PROTOCOL.md §2.8): registration looks only at the map, so a key
        // that exists only as a non-empty queue is awaited too. Duplicates register (and count) twice.
        var waiter = new Waiter(connection);
        _waiting.Add(connection, waiter); // first, so that Forget could undo a registration loop cut short
        for (var i = 0; i < q.Keys.Count; i++)
        {
            var key = q.Keys[i];
            if (!_kv.ContainsKey(key))
                Register(waiter, key);
        }

        waiter.BatchReplies = replies;
        waiter.PendingIndex = replies.Count;
        replies.Add(Reply.WaitPending.Instance);
        return null;
    }

    private void Register(Waiter waiter, byte[] key)
    {
        if (!_waiters.TryGetValue(key, out var list))
        {
            list = new LinkedList<Waiter>();
            _waiters.Add(key, list);
        }
        waiter.Registrations.Add((key, list.AddLast(waiter)));
        waiter.Remaining++;
        _registrations++;
    }

    /// <summary>Every registration under <paramref name="key"/> counts down once; the list is dropped (docs/PROTOCOL.md §2.8).</summary>
    private void WakeAll(byte[] key)
    {
        if (!_waiters.Remove(key, out var list))
            return;
        while (list.First is { } node)
        {
            list.RemoveFirst(); // also marks the node as consumed for Forget
            _registrations--;
            if (--node.Value.Remaining == 0)
                Complete(node.Value);
        }
    }

    /// <summary>
    /// QUEUE_PUSH's wake (docs/PROTOCOL.md §6.3): consume registrations in order until one connection's WAIT is complete.
    /// Consumed registrations are removed, so none can later count down a newer WAIT of the same connection.
    /// </summary>
    private void WakeOne(byte[] key)
    {
        if (!_waiters.TryGetValue(key, out var list))
            return;
        while (list.First is { } node)
        {
            list.RemoveFirst();
            _registrations--;
            if (--node.Value.Remaining == 0)
            {
                Complete(node.Value);
                break;
            }
        }
        if (list.Count == 0)
            _waiters.Remove(key);
    }

    private void Complete(Waiter waiter)
    {
        _waiting.Remove(waiter.Connection);
        if (waiter.BatchReplies is { } replies && ReferenceEquals(replies, _currentReplies))
        {
            // Woken by a later query of the batch that registered it: STOP_WAITING takes the WAIT's position.
            replies[waiter.PendingIndex] = Reply.StopWaiting.Instance;
            waiter.BatchReplies = null;
        }
        else
        {
            _waitCompleted(waiter.Connection);
        }
    }

    /// <summary>Drops the connection's outstanding WAIT and all its live registrations, in O(its keys).</summary>
    public void Forget(IActorRef connection)
    {
        if (!_waiting.Remove(connection, out var waiter))
            return;
        foreach (var (key, node) in waiter.Registrations)
        {
            if (node.List is not { } list)
                continue; // consumed by a wake
            list.Remove(node);
            _registrations--;
            // Only drop the list the key maps to now (a list detached by a wake cut short is not it).
            if (list.Count == 0 && _waiters.TryGetValue(key, out var registered) && ReferenceEquals(registered, list))
                _waiters.Remove(key);
        }
        waiter.Remaining = 0;
        waiter.BatchReplies = null;
    }

    private Rejection? QueuePush(Query.QueuePush q)
    {
        if (!_queues.TryGetValue(q.Key, out var queue))
        {
            if (_limits.MaxQueueLength == 0)
                return QueueFull();
            queue = new Queue<byte[]>();
            _queues.Add(q.Key, queue);
        }
        else if (queue.Count >= _limits.MaxQueueLength)
        {
            return QueueFull();
        }

        queue.Enqueue(q.Value);
        _queueItems++;
        _storedBytes += q.Value.Length;
        _changes?.QueueChanged(q.Key);
        WakeOne(q.Key);
        return null;

        Rejection QueueFull() => new(QueryType.QueuePush, RejectionReasons.QueueFull,
            $"the queue already holds {_limits.MaxQueueLength} items (the configured maximum)");
    }

    private Reply.QueueItem QueuePop(byte[] key)
    {
        // Unlike libuv, popping an unknown name creates no entry (an empty queue is indistinguishable anyway).
        if (!_queues.TryGetValue(key, out var queue))
            return new Reply.QueueItem(0, null);
        var length = queue.Count;
        var item = queue.Dequeue();
        _queueItems--;
        _storedBytes -= item.Length;
        if (queue.Count == 0)
            _queues.Remove(key);
        _changes?.QueueChanged(key);
        return new Reply.QueueItem(length, item);
    }


    /// <summary>Connections with a WAIT outstanding (cluster mode forgets those of a node that left).</summary>
    public IEnumerable<IActorRef> WaitingConnections => _waiting.Keys;

    /// <summary>The items of queue <paramref name="name"/>, oldest first; empty when it has none.</summary>
    public IReadOnlyCollection<byte[]> QueueItems(byte[] name) =>
        _queues.TryGetValue(name, out var queue) ? queue : [];

    /// <summary>
    /// Fills an empty store (a cluster singleton taking over), without waking or reporting anyone.
    /// </summary>
    public void Load(IEnumerable<KeyValuePair<byte[], byte[]>> entries, IEnumerable<KeyValuePair<byte[], IReadOnlyList<byte[]>>> queues)
    {
        if (_kv.Count != 0 || _queues.Count != 0)
            throw new InvalidOperationException("Only an empty store can be loaded");
        foreach (var (key, value) in entries)
        {
            _kv[key] = value;
            _storedBytes += key.Length + value.Length;
        }
        foreach (var (name, items) in queues)
        {
            if (items.Count == 0) continue;
            var queue = new Queue<byte[]>(items);
            _queues[name] = queue;
            _queueItems += queue.Count;
            foreach (var item in items) _storedBytes += item.Length;
        }
    }

    public StoreStats Stats() =>
        new(_kv.Count, _queues.Count, _queueItems, _storedBytes, _waiting.Count, _registrations);

    /// <summary>Plain field writes for the metrics' observable gauges; nothing is allocated.</summary>
    public void PublishGauges(StoreGauges gauges)
    {
        gauges.Keys = _kv.Count;
        gauges.QueueItems = _queueItems;
        gauges.StoredBytes = _storedBytes;
        gauges.WaitingConnections = _waiting.Count;
        gauges.WaiterRegistrations = _registrations;
    }

    // The status queries below allocate and sort; they serve an operator's page, not the wire protocol.

    /// <summary>The keys plain WAITs wait for (a barrier's arrivals are listed by <see cref="ListBarriers"/>).</summary>
    public Waiters ListWaiters(GetWaiters request)
    {
        var keys = new List<(byte[] Key, List<Waiter> Waiters)>(_waiters.Count);
        foreach (var (key, list) in _waiters)
        {
            var waits = list.Where(static w => w.BarrierWorldSize == 0).ToList();
            if (waits.Count > 0) keys.Add((key, waits));
        }
        keys.Sort(static (a, b) =>
        {
            var byCount = b.Waiters.Count.CompareTo(a.Waiters.Count);
            return byCount != 0 ? byCount : a.Key.AsSpan().SequenceCompareTo(b.Key);
        });
        var result = new List<AwaitedKey>(Math.Min(keys.Count, Math.Max(0, request.MaxKeys)));
        foreach (var (key, waiters) in keys)
        {
            if (result.Count >= request.MaxKeys) break;
            var connections = waiters.Take(Math.Max(0, request.MaxConnectionsPerKey)).Select(static w => w.Connection).ToList();
            result.Add(new AwaitedKey(key, waiters.Count, connections));
        }
        return new Waiters(keys.Count, result);
    }

    /// <summary>
    /// Barriers with arrivals waiting, the most waiting first: each key's count as stored now (null when it no longer
    /// parses, e.g. deleted), the largest world size its waiters arrived with, and its waiting connections.
    /// </summary>
    public Barriers ListBarriers(GetBarriers request)
    {
        var byKey = new Dictionary<byte[], List<Waiter>>(ByteArrayComparer.Instance);
        foreach (var waiter in _waiting.Values)
        {
            if (waiter.BarrierWorldSize == 0 || waiter.Registrations.Count == 0) continue;
            var key = waiter.Registrations[0].Key;
            if (!byKey.TryGetValue(key, out var waiters)) byKey[key] = waiters = [];
            waiters.Add(waiter);
        }

        var barriers = new List<BarrierInProgress>(byKey.Count);
        foreach (var (key, waiters) in byKey)
        {
            long? arrived = _kv.TryGetValue(key, out var value) && DecimalValue.TryParse(value, out var count, out _) ? count : null;
            var connections = waiters.Take(Math.Max(0, request.MaxConnectionsPerBarrier)).Select(w => w.Connection).ToList();
            barriers.Add(new BarrierInProgress(key, arrived, waiters.Max(w => w.BarrierWorldSize), waiters.Count, connections));
        }
        barriers.Sort(static (a, b) =>
        {
            var byCount = b.Waiting.CompareTo(a.Waiting);
            return byCount != 0 ? byCount : a.Key.AsSpan().SequenceCompareTo(b.Key);
        });
        var total = barriers.Count;
        if (total > request.MaxBarriers) barriers.RemoveRange(Math.Max(0, request.MaxBarriers), total - Math.Max(0, request.MaxBarriers));
        return new Barriers(total, barriers);
    }

    public Entries ListEntriesPage(ListEntries request)
    {
        var keys = new byte[_kv.Count][];
        _kv.Keys.CopyTo(keys, 0);
        Array.Sort(keys, static (a, b) => a.AsSpan().SequenceCompareTo(b));
        var offset = Math.Clamp(request.Offset, 0, keys.Length);
        var count = Math.Clamp(request.Limit, 0, keys.Length - offset);
        var items = new Entry[count];
        for (var i = 0; i < count; i++)
        {
            var key = keys[offset + i];
            var value = _kv[key];
            items[i] = new Entry(key, value.Length, request.PreviewBytes > 0 && value.Length <= request.PreviewBytes ? value : null);
        }
        return new Entries(keys.Length, offset, items);
    }

    public QueueList ListQueueNames(ListQueues request)
    {
        var queues = new List<QueueInfo>(_queues.Count);
        foreach (var (name, queue) in _queues) queues.Add(new QueueInfo(name, queue.Count));
        queues.Sort(static (a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        var total = queues.Count;
        if (total > request.Limit) queues.RemoveRange(Math.Max(0, request.Limit), total - Math.Max(0, request.Limit));
        return new QueueList(total, queues);
    }
}
