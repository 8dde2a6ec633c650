namespace TcpStore.Akka.Client;

/// <summary>
/// Settings of a <see cref="TcpStoreClient"/>. The defaults are PyTorch 2.10's (<c>TCPStoreOptions</c> and the
/// client's backoff constants, docs/PROTOCOL.md §5.2), so a .NET client and a PyTorch rank behave alike.
/// </summary>
public sealed record TcpStoreClientOptions
{
    /// <summary>PyTorch's default store timeout (<c>Store::kDefaultTimeout</c>): 300 s.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(300);

    /// <summary>Server host name or address.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Server port (PyTorch's default: 29500).</summary>
    public int Port { get; init; } = 29500;

    /// <summary>
    /// The default timeout of everything that waits for keys: <c>GetAsync</c>, <c>MultiGetAsync</c>, <c>WaitAsync</c>
    /// without an explicit timeout and a blocking <c>QueuePopAsync</c>. <see cref="TimeSpan.Zero"/> times out at once
    /// (as in PyTorch); <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> waits forever.
    /// </summary>
    public TimeSpan Timeout { get; init; } = DefaultTimeout;

    /// <summary>
    /// How long connecting may take, retries included (connect, VALIDATE, PING). Null (the default) means
    /// <see cref="Timeout"/>, as in PyTorch.
    /// </summary>
    public TimeSpan? ConnectTimeout { get; init; }

    /// <summary>
    /// Prepended to every key on the wire. PyTorch's client uses <c>/</c>, so the default lets .NET and Python ranks
    /// share keys; <c>""</c> addresses raw wire keys (such as <c>init/</c>). <c>ListKeysAsync</c> returns only the keys
    /// that start with it, without it.
    /// </summary>
    public string KeyPrefix { get; init; } = "/";

    /// <summary>
    /// What happens after the connection broke (dropped by the server, a network error, or a call canceled in the middle
    /// of a request): false (the default, like PyTorch) makes every later call throw
    /// <see cref="TcpStoreConnectionException"/>; true makes the next call connect again (with VALIDATE + PING and the
    /// usual retries) before it runs. A call is never retried by itself: the one that saw the failure always throws.
    /// </summary>
    public bool Reconnect { get; init; }

    /// <summary>First retry delay while connecting (PyTorch: 500 ms).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Each delay is drawn uniformly from ±this fraction around the current interval (PyTorch: 0.5).</summary>
    public double BackoffRandomization { get; init; } = 0.5;

    /// <summary>The interval grows by this factor after each retry (PyTorch: 1.5).</summary>
    public double BackoffMultiplier { get; init; } = 1.5;

    /// <summary>Upper bound of the interval (PyTorch: 60 s).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The connect deadline actually used: <see cref="ConnectTimeout"/>, else <see cref="Timeout"/>.</summary>
    public TimeSpan EffectiveConnectTimeout => ConnectTimeout ?? Timeout;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Host);
        ArgumentOutOfRangeException.ThrowIfLessThan(Port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535);
        ArgumentNullException.ThrowIfNull(KeyPrefix);
        CheckTimeout(Timeout, nameof(Timeout));
        CheckTimeout(EffectiveConnectTimeout, nameof(ConnectTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialBackoff, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBackoff, InitialBackoff);
        ArgumentOutOfRangeException.ThrowIfLessThan(BackoffMultiplier, 1.0);
        if (BackoffRandomization is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(BackoffRandomization), "must be within [0, 1]");
    }

    internal static void CheckTimeout(TimeSpan timeout, string name)
    {
        if (timeout < TimeSpan.Zero && timeout != System.Threading.Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(name, timeout, "must be zero or more, or Timeout.InfiniteTimeSpan");
    }
}
