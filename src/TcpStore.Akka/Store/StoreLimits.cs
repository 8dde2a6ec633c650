namespace TcpStore.Akka.Store;

/// <summary>Limits the <see cref="StoreActor"/> enforces on what it holds (PROTOCOL.md A, improvement 7).</summary>
/// <param name="MaxQueueLength">Most items one queue may hold; a QUEUE_PUSH beyond it is rejected
/// (<c>queue-full</c>). libuv's queues are unbounded; 1,048,576 keeps a runaway producer from exhausting memory.</param>
public sealed record StoreLimits(int MaxQueueLength)
{
    public static readonly StoreLimits Default = new(1_048_576);
}
