namespace TcpStore.Akka.Client;

/// <summary>Base of every error a <see cref="TcpStoreClient"/> reports (PyTorch: <c>DistStoreError</c>).</summary>
public class TcpStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TcpStoreException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public TcpStoreException(string message, Exception? innerException) : base(message, innerException) { }
}

/// <summary>
/// Waiting for keys, or at a barrier, timed out (PyTorch: "wait timeout after 300ms, keys: /missing", "barrier timeout
/// after 300ms, key: epoch/3"). The wait was canceled on the server (CANCEL_WAIT) and the connection remains usable.
/// </summary>
public sealed class TcpStoreTimeoutException : TcpStoreException
{
    /// <summary>Creates the exception of a WAIT.</summary>
    public TcpStoreTimeoutException(IReadOnlyList<string> keys, TimeSpan timeout)
        : this($"wait timeout after {(long)timeout.TotalMilliseconds}ms, keys: {string.Join(", ", keys)}", keys, timeout)
    {
    }

    private TcpStoreTimeoutException(string message, IReadOnlyList<string> keys, TimeSpan timeout) : base(message)
    {
        Keys = keys;
        Timeout = timeout;
    }

    /// <summary>The exception of a BARRIER: PyTorch's text names the key as the caller gave it, without the prefix.</summary>
    internal static TcpStoreTimeoutException Barrier(string key, string wireKey, TimeSpan timeout) =>
        new($"barrier timeout after {(long)timeout.TotalMilliseconds}ms, key: {key}", [wireKey], timeout);

    /// <summary>The keys waited for, as sent on the wire (with the key prefix, e.g. <c>/missing</c>).</summary>
    public IReadOnlyList<string> Keys { get; }

    /// <summary>The timeout that expired.</summary>
    public TimeSpan Timeout { get; }
}

/// <summary>
/// The client could not connect, or the connection broke (the server closed it, a network error, a call canceled in the
/// middle of a request). Without <see cref="TcpStoreClientOptions.Reconnect"/> every later call throws this too.
/// </summary>
public sealed class TcpStoreConnectionException : TcpStoreException
{
    /// <summary>Creates the exception.</summary>
    public TcpStoreConnectionException(string message, Exception? innerException = null)
        : base(message, innerException) { }
}

/// <summary>QUEUE_POP found the queue empty (PyTorch: <c>DistQueueEmptyError("queue is empty")</c>).</summary>
public sealed class TcpStoreQueueEmptyException : TcpStoreException
{
    /// <summary>Creates the exception.</summary>
    public TcpStoreQueueEmptyException(string key) : base("queue is empty") => Key = key;

    /// <summary>The queue's wire name.</summary>
    public string Key { get; }
}

/// <summary>The server sent bytes that cannot be the reply to the request (the connection is then broken).</summary>
public sealed class TcpStoreProtocolException : TcpStoreException
{
    /// <summary>Creates the exception.</summary>
    public TcpStoreProtocolException(string message, Exception? innerException = null)
        : base(message, innerException) { }
}
