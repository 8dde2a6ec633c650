using Akka.Actor;
using Akka.Event;
using TcpStore.Protocol;

namespace TcpStore.Akka.Store;

/// <summary>
/// Messages of the <see cref="StoreActor"/>. Plain records that carry the connection's <see cref="IActorRef"/>
/// explicitly, so the store can wake, cancel and clean up per connection and could live on another node.
/// </summary>
public static class StoreProtocol
{
    /// <summary>
    /// Execute a batch of queries from one connection, in order. The store answers <paramref name="Connection"/>
    /// with one <see cref="Executed"/> for the batch, and later with <see cref="WaitCompleted"/> for a WAIT it
    /// deferred.
    /// </summary>
    public sealed record Execute(IActorRef Connection, IReadOnlyList<Query> Queries);

    /// <summary>
    /// The replies of one <see cref="Execute"/>, in request order (queries without a reply add none). A deferred
    /// WAIT is represented by <see cref="Reply.WaitPending"/>. When <paramref name="Rejection"/> is set, the query
    /// it names was refused, nothing after it was executed, the store has already forgotten the connection, and
    /// the connection must be closed after writing <paramref name="Replies"/>.
    /// </summary>
    public sealed record Executed(IReadOnlyList<Reply> Replies, Rejection? Rejection = null) : IDeadLetterSuppression;

    // Replies to a connection that has just closed are expected; they are not worth a dead-letter log line.

    /// <summary>A WAIT of this connection that was answered with <see cref="Reply.WaitPending"/> is now satisfied.</summary>
    public sealed record WaitCompleted : IDeadLetterSuppression
    {
        public static readonly WaitCompleted Instance = new();
    }

    /// <summary>
    /// Cluster mode: the store this node's connections talked to has stopped (its node was lost, or it was handed
    /// over). A connection with a batch in flight or a deferred WAIT closes, because those answers died with that
    /// store (docs/CLUSTER.md); an idle connection carries on with the next store.
    /// </summary>
    public sealed record StoreLost : IDeadLetterSuppression
    {
        public static readonly StoreLost Instance = new();
    }

    /// <summary>The connection is gone: drop its waiter registrations at once. Not answered.</summary>
    public sealed record ConnectionClosed(IActorRef Connection);

    /// <summary>Ask for a <see cref="StoreStats"/> snapshot (operations, tests, health checks).</summary>
    public sealed record GetStats
    {
        public static readonly GetStats Instance = new();
    }

    /// <summary>What the store holds right now.</summary>
    /// <param name="Keys">Entries of the key/value map (what GETNUMKEYS answers).</param>
    /// <param name="Queues">Non-empty queues.</param>
    /// <param name="QueueItems">Items in all queues.</param>
    /// <param name="StoredBytes">Bytes of keys and values in the map plus queue items.</param>
    /// <param name="WaitingConnections">Connections with a WAIT outstanding.</param>
    /// <param name="WaiterRegistrations">(key, connection) registrations in all waiter lists.</param>
    public sealed record StoreStats(
        int Keys,
        int Queues,
        long QueueItems,
        long StoredBytes,
        int WaitingConnections,
        int WaiterRegistrations)
    {
        /// <summary>Cluster mode: the Akka address of the node that hosts the store; null standalone.</summary>
        public string? Host { get; init; }
    }

    /// <summary>
    /// Ask who waits for what (the status view): answered with <see cref="Waiters"/>, the awaited keys with the most
    /// registrations first, at most <paramref name="MaxKeys"/> of them and at most
    /// <paramref name="MaxConnectionsPerKey"/> connections each (the counts are always exact).
    /// </summary>
    public sealed record GetWaiters(int MaxKeys = 1000, int MaxConnectionsPerKey = 1000);

    /// <summary>One absent key that outstanding WAITs are registered on.</summary>
    /// <param name="Key">The awaited key.</param>
    /// <param name="Registrations">Registrations on it (a WAIT that names the key twice counts twice).</param>
    /// <param name="Connections">The registered connections, in registration order, cut at the asked maximum.</param>
    public sealed record AwaitedKey(byte[] Key, int Registrations, IReadOnlyList<IActorRef> Connections);

    /// <summary>The answer to <see cref="GetWaiters"/>; <paramref name="TotalKeys"/> counts every awaited key.</summary>
    public sealed record Waiters(int TotalKeys, IReadOnlyList<AwaitedKey> Keys);

    /// <summary>
    /// Ask which barriers have arrivals waiting (the status view): answered with <see cref="Barriers"/>, the most
    /// waiting first, at most <paramref name="MaxBarriers"/> of them and <paramref name="MaxConnectionsPerBarrier"/>
    /// connections each (the counts are always exact).
    /// </summary>
    public sealed record GetBarriers(int MaxBarriers = 1000, int MaxConnectionsPerBarrier = 1000);

    /// <summary>One barrier with arrivals waiting.</summary>
    /// <param name="Key">The barrier's key, which holds its count.</param>
    /// <param name="Arrived">The count stored in the key now; null when it is not a number any more (deleted, overwritten).</param>
    /// <param name="Expected">The largest world size the waiting arrivals asked for.</param>
    /// <param name="Waiting">Arrivals waiting for the barrier to release.</param>
    /// <param name="Connections">The waiting connections, in arrival order, cut at the asked maximum.</param>
    public sealed record BarrierInProgress(byte[] Key, long? Arrived, long Expected, int Waiting, IReadOnlyList<IActorRef> Connections);

    /// <summary>The answer to <see cref="GetBarriers"/>; <paramref name="Total"/> counts every barrier with waiters.</summary>
    public sealed record Barriers(int Total, IReadOnlyList<BarrierInProgress> Items);

    /// <summary>
    /// Ask for one page of the key/value map, in ordinal byte order of the keys: answered with <see cref="Entries"/>.
    /// Values up to <paramref name="PreviewBytes"/> long are included (0 includes none).
    /// </summary>
    public sealed record ListEntries(int Offset, int Limit, int PreviewBytes = 0);

    /// <summary>One key of the map, the size of its value, and the value itself when it is short enough.</summary>
    public sealed record Entry(byte[] Key, int ValueBytes, byte[]? Value);

    /// <summary>One page of the map: <paramref name="Total"/> keys in all, these from <paramref name="Offset"/> on.</summary>
    public sealed record Entries(int Total, int Offset, IReadOnlyList<Entry> Items);

    /// <summary>Ask for the non-empty queues (name and item count), in ordinal byte order: answered with
    /// <see cref="QueueList"/>, at most <paramref name="Limit"/> of them.</summary>
    public sealed record ListQueues(int Limit = 1000);

    /// <summary>One non-empty queue.</summary>
    public sealed record QueueInfo(byte[] Name, int Items);

    /// <summary>The answer to <see cref="ListQueues"/>; <paramref name="Total"/> counts every non-empty queue.</summary>
    public sealed record QueueList(int Total, IReadOnlyList<QueueInfo> Queues);
}

/// <summary>A query the store refused; the connection that sent it is closed.</summary>
/// <param name="Query">The refused query's type.</param>
/// <param name="Reason">A short, stable name for logs and counters (e.g. <c>add-not-a-number</c>).</param>
/// <param name="Detail">A human-readable explanation.</param>
public sealed record Rejection(QueryType Query, string Reason, string Detail);
