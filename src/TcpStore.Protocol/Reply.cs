namespace TcpStore.Protocol;

/// <summary>
/// One reply as the store produces it; <see cref="ReplyEncoder"/> turns it into wire bytes. Queries without a
/// reply (SET, APPEND, MULTI_SET, QUEUE_PUSH) produce none. <see cref="WaitPending"/> is the one member that is
/// not a wire reply: it holds a WAIT's place in request order until its STOP_WAITING arrives or it is canceled.
/// </summary>
public abstract record Reply
{
    private Reply() { }

    /// <summary>A byte vector: GET, COMPARE_SET.</summary>
    public sealed record Bytes(byte[] Value) : Reply;

    /// <summary>An i64: ADD, GETNUMKEYS, DELETE_KEY, QUEUE_LEN.</summary>
    public sealed record Integer(long Value) : Reply;

    /// <summary>CHECK: u8 READY (0) or NOT_READY (1).</summary>
    public sealed record CheckResult(bool Ready) : Reply
    {
        /// <summary>READY (0).</summary>
        public static readonly CheckResult ReadyReply = new(true);
        /// <summary>NOT_READY (1).</summary>
        public static readonly CheckResult NotReadyReply = new(false);
    }

    /// <summary>WAIT satisfied: u8 STOP_WAITING (0).</summary>
    public sealed record StopWaiting : Reply
    {
        /// <summary>The one instance: the reply has no fields.</summary>
        public static readonly StopWaiting Instance = new();
    }

    /// <summary>CANCEL_WAIT: u8 WAIT_CANCELED (1).</summary>
    public sealed record WaitCanceled : Reply
    {
        /// <summary>The one instance: the reply has no fields.</summary>
        public static readonly WaitCanceled Instance = new();
    }

    /// <summary>
    /// Not a wire reply: the WAIT at this position is registered and its STOP_WAITING comes later, as its own
    /// message (or never, when CANCEL_WAIT comes first). Nothing is written for it now; replies after it go out at
    /// once, as in both PyTorch servers.
    /// </summary>
    public sealed record WaitPending : Reply
    {
        /// <summary>The one instance: the reply has no fields.</summary>
        public static readonly WaitPending Instance = new();
    }

    /// <summary>PING: the same u32 nonce.</summary>
    public sealed record Pong(uint Nonce) : Reply;

    /// <summary>MULTI_GET: one vector per requested key, in request order.</summary>
    public sealed record MultiBytes(IReadOnlyList<byte[]> Values) : Reply;

    /// <summary>QUEUE_POP: i64 length before the pop, followed by the popped item iff that length was positive.</summary>
    public sealed record QueueItem(long LengthBeforePop, byte[]? Value) : Reply;

    /// <summary>LIST_KEYS: i64 count, then each key as a vector.</summary>
    public sealed record KeyList(IReadOnlyList<byte[]> Keys) : Reply;
}
