namespace TcpStore.Akka.Connections;

/// <summary>
/// The connections a listener has handed to its hosts that no host has claimed yet (queued in a host's channel or
/// stage actor). A host's stream can stop with such a connection still queued — a stage actor's pending messages are
/// dropped with it — and then nothing else knows the socket: its client would wait for ever. The listener closes what
/// is left here when it stops. Shared by the listener and the hosts (other threads), hence the lock.
/// </summary>
internal sealed class UnclaimedConnections
{
    private readonly Lock _gate = new();
    private readonly HashSet<AcceptedConnection> _unclaimed = new(ReferenceEqualityComparer.Instance);

    /// <summary>A connection on its way to a host.</summary>
    public void Add(AcceptedConnection connection)
    {
        lock (_gate) _unclaimed.Add(connection);
    }

    /// <summary>A host takes <paramref name="connection"/>; false when it was closed already (do not start it).</summary>
    public bool Claim(AcceptedConnection connection)
    {
        if (!connection.TryClaim()) return false;
        lock (_gate) _unclaimed.Remove(connection);
        return true;
    }

    /// <summary>Closes every connection no host claimed (the listener is stopping).</summary>
    public void CloseAll()
    {
        AcceptedConnection[] left;
        lock (_gate)
        {
            left = [.. _unclaimed];
            _unclaimed.Clear();
        }

        foreach (var connection in left) connection.CloseUnclaimed();
    }
}
