namespace TcpStore.Akka.Connections;

/// <summary>
/// Connections shared by every listener of one store manager (<c>tcpstore.limits.max-total-connections</c>): a store's
/// own <c>max-connections</c> bounds it alone, this bounds all of them together. Taken on accept, returned on close,
/// by the listeners' actors; an interlocked counter, since several listeners share it.
/// </summary>
public sealed class ConnectionBudget(int limit)
{
    private int _used;

    /// <summary>Connections at most.</summary>
    public int Limit { get; } = limit;

    /// <summary>Connections open now, all listeners together.</summary>
    public int Used => Volatile.Read(ref _used);

    /// <summary>Takes one connection's place; false (and nothing taken) when all are taken.</summary>
    public bool TryTake()
    {
        if (Interlocked.Increment(ref _used) <= Limit) return true;
        Interlocked.Decrement(ref _used);
        return false;
    }

    /// <summary>Gives back the places of <paramref name="connections"/> closed connections.</summary>
    public void Return(int connections = 1) => Interlocked.Add(ref _used, -connections);
}
