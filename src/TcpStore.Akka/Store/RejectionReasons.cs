namespace TcpStore.Akka.Store;

/// <summary>The stable <see cref="Rejection.Reason"/> names the store uses (for logs, counters and tests).</summary>
public static class RejectionReasons
{
    /// <summary>ADD on a stored value in which <c>strtoll</c> finds no digits.</summary>
    public const string AddNotANumber = "add-not-a-number";

    /// <summary>ADD on a stored value outside the int64 range.</summary>
    public const string AddOutOfRange = "add-out-of-range";

    /// <summary>BARRIER on a stored count in which <c>strtoll</c> finds no digits.</summary>
    public const string BarrierNotANumber = "barrier-not-a-number";

    /// <summary>BARRIER on a stored count outside the int64 range.</summary>
    public const string BarrierOutOfRange = "barrier-out-of-range";

    /// <summary>A WAIT (or BARRIER) while the same connection's previous one is still outstanding.</summary>
    public const string WaitAlreadyPending = "wait-already-pending";

    /// <summary>QUEUE_PUSH onto a queue already at <see cref="StoreLimits.MaxQueueLength"/>.</summary>
    public const string QueueFull = "queue-full";

    /// <summary>An unexpected exception while executing the query (a bug); logged with its stack trace.</summary>
    public const string InternalError = "internal-error";
}
