using Akka.Configuration;
using TcpStore.Akka.Configuration;

namespace TcpStore.Akka.Store;

/// <summary>The store's slice of the settings: what it may hold (<c>tcpstore.limits</c>).</summary>
/// <param name="MaxQueueLength">Most items one queue may hold; a QUEUE_PUSH beyond it is rejected
/// (<c>queue-full</c>). libuv's queues are unbounded; 1,048,576 keeps a runaway producer from exhausting memory.</param>
public sealed record StoreLimits(int MaxQueueLength)
{
    /// <summary>The embedded defaults.</summary>
    public static readonly StoreLimits Default = new(1_048_576);

    /// <summary>Reads the store's keys from a <c>tcpstore</c> section that has every key (defaults included).</summary>
    public static StoreLimits Create(Config tcpstore) =>
        new(SettingsReader.Positive(tcpstore, "limits.max-queue-length"));
}
