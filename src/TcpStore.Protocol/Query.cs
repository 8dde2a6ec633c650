namespace TcpStore.Protocol;

/// <summary>
/// One decoded request. Keys and values are raw bytes exactly as they arrived (the PyTorch client's
/// <c>/</c> prefix included); the codec never turns them into strings. VALIDATE is consumed by the
/// decoder and never surfaces as a query.
/// </summary>
public abstract record Query
{
    private Query() { }

    /// <summary>The type byte the query is sent with.</summary>
    public abstract QueryType Type { get; }

    /// <summary>SET (1): <c>key := value</c>, no reply.</summary>
    public sealed record Set(byte[] Key, byte[] Value) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.Set;
    }

    /// <summary>COMPARE_SET (2): reply is a byte vector (docs/PROTOCOL.md §2.4).</summary>
    public sealed record CompareSet(byte[] Key, byte[] Expected, byte[] Desired) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.CompareSet;
    }

    /// <summary>GET (3): reply is the value, or an empty vector for a missing key.</summary>
    public sealed record Get(byte[] Key) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.Get;
    }

    /// <summary>ADD (4): reply is the new value as i64.</summary>
    public sealed record Add(byte[] Key, long Delta) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.Add;
    }

    /// <summary>CHECK (5): reply u8 READY (0) or NOT_READY (1).</summary>
    public sealed record Check(IReadOnlyList<byte[]> Keys) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.Check;
    }

    /// <summary>WAIT (6): reply u8 STOP_WAITING (0), possibly deferred.</summary>
    public sealed record Wait(IReadOnlyList<byte[]> Keys) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.Wait;
    }

    /// <summary>GETNUMKEYS (7): reply i64.</summary>
    public sealed record GetNumKeys : Query
    {
        /// <summary>The one instance: the query has no fields.</summary>
        public static readonly GetNumKeys Instance = new();
        /// <inheritdoc />
        public override QueryType Type => QueryType.GetNumKeys;
    }

    /// <summary>DELETE_KEY (8): reply i64 1 or 0.</summary>
    public sealed record DeleteKey(byte[] Key) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.DeleteKey;
    }

    /// <summary>APPEND (9): no reply.</summary>
    public sealed record Append(byte[] Key, byte[] Value) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.Append;
    }

    /// <summary>MULTI_GET (10): reply is one vector per key, in request order.</summary>
    public sealed record MultiGet(IReadOnlyList<byte[]> Keys) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.MultiGet;
    }

    /// <summary>MULTI_SET (11): no reply; applied as a unit.</summary>
    public sealed record MultiSet(IReadOnlyList<KeyValuePair<byte[], byte[]>> Pairs) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.MultiSet;
    }

    /// <summary>CANCEL_WAIT (12): reply u8 WAIT_CANCELED (1), always.</summary>
    public sealed record CancelWait : Query
    {
        /// <summary>The one instance: the query has no fields.</summary>
        public static readonly CancelWait Instance = new();
        /// <inheritdoc />
        public override QueryType Type => QueryType.CancelWait;
    }

    /// <summary>PING (13): reply echoes the nonce.</summary>
    public sealed record Ping(uint Nonce) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.Ping;
    }

    /// <summary>QUEUE_PUSH (14): no reply; wakes one waiter.</summary>
    public sealed record QueuePush(byte[] Key, byte[] Value) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.QueuePush;
    }

    /// <summary>QUEUE_POP (15): reply i64 length before the pop, then the item iff that length was positive.</summary>
    public sealed record QueuePop(byte[] Key) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.QueuePop;
    }

    /// <summary>QUEUE_LEN (16): reply i64.</summary>
    public sealed record QueueLen(byte[] Key) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.QueueLen;
    }

    /// <summary>
    /// BARRIER (18): counts an arrival in <paramref name="Key"/> (as ADD 1 would, without waking anyone); reply
    /// STOP_WAITING (0) once the count reaches <paramref name="WorldSize"/>, possibly deferred (docs/PROTOCOL.md §2.20).
    /// </summary>
    public sealed record Barrier(byte[] Key, long WorldSize) : Query
    {
        /// <inheritdoc />
        public override QueryType Type => QueryType.Barrier;
    }

    /// <summary>LIST_KEYS (17): reply i64 count then that many strings.</summary>
    public sealed record ListKeys : Query
    {
        /// <summary>The one instance: the query has no fields.</summary>
        public static readonly ListKeys Instance = new();
        /// <inheritdoc />
        public override QueryType Type => QueryType.ListKeys;
    }
}
