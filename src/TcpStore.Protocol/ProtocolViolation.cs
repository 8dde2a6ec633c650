namespace TcpStore.Protocol;

/// <summary>Why a connection's bytes were refused. Each is logged and counted by name.</summary>
public enum ViolationReason
{
    /// <summary>The first five bytes were not <c>00 ce f7 85 3c</c>.</summary>
    InvalidValidate,
    /// <summary>A VALIDATE after the first message.</summary>
    RepeatedValidate,
    /// <summary>A query type no PyTorch client sends (19 and above).</summary>
    UnknownQueryType,
    /// <summary>A key longer than <see cref="WireLimits.MaxKeyBytes"/>.</summary>
    KeyTooLong,
    /// <summary>A value longer than <see cref="WireLimits.MaxValueBytes"/>.</summary>
    ValueTooLong,
    /// <summary>More keys in one request than <see cref="WireLimits.MaxKeysPerRequest"/>.</summary>
    TooManyKeys,
    /// <summary>The peer closed the connection in the middle of a request.</summary>
    TruncatedRequest,
}

/// <summary>
/// Thrown by the decoder when a connection sends bytes that are not a valid request. The connection is closed;
/// nothing of the offending request has been executed.
/// </summary>
public sealed class ProtocolViolationException : Exception
{
    /// <summary>A violation of <paramref name="reason"/>, in <paramref name="query"/> when its type byte was read.</summary>
    public ProtocolViolationException(ViolationReason reason, QueryType? query, string detail)
        : base($"{reason}{(query is { } q ? $" in {q}" : "")}: {detail}")
    {
        Reason = reason;
        Query = query;
        Detail = detail;
    }

    /// <summary>What was wrong.</summary>
    public ViolationReason Reason { get; }

    /// <summary>The query being decoded, when the type byte had been read.</summary>
    public QueryType? Query { get; }

    /// <summary>A human-readable explanation (the offending length, byte or count).</summary>
    public string Detail { get; }
}
