namespace TcpStore.Akka.Cluster.Replication;

/// <summary>
/// The order of the store's changes: the epoch of the singleton that made them, then that singleton's group
/// sequence number. Compared in that order; no clock takes part, so a clock stepping back or skewed between nodes
/// cannot reorder anything (issue 13, hole 5).
/// </summary>
internal readonly record struct Stamp(long Epoch, long Sequence) : IComparable<Stamp>
{
    public static readonly Stamp Zero = new(0, 0);

    public int CompareTo(Stamp other)
    {
        var byEpoch = Epoch.CompareTo(other.Epoch);
        return byEpoch != 0 ? byEpoch : Sequence.CompareTo(other.Sequence);
    }

    public static bool operator <(Stamp a, Stamp b) => a.CompareTo(b) < 0;

    public static bool operator >(Stamp a, Stamp b) => a.CompareTo(b) > 0;

    public static bool operator <=(Stamp a, Stamp b) => a.CompareTo(b) <= 0;

    public static bool operator >=(Stamp a, Stamp b) => a.CompareTo(b) >= 0;

    public static Stamp Max(Stamp a, Stamp b) => a >= b ? a : b;

    public override string ToString() => $"{Epoch}.{Sequence}";
}

/// <summary>
/// One change of the store: a map entry or a queue (by its replica id, <see cref="ReplicaLayout"/>) and its new
/// value, or null when the entry was deleted or the queue emptied (kept as a tombstone, so that an older value
/// elsewhere cannot come back).
/// </summary>
internal readonly record struct Change(string Id, byte[]? Value);
