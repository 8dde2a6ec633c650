using Akka.DistributedData;

namespace TcpStore.Akka.Cluster.Replication;

/// <summary>
/// Who owns the store: a singleton incarnation's epoch. A new singleton reads the highest epoch from a quorum and
/// writes the next one (its own) to a quorum before it reads the state; an older singleton that later reads an epoch
/// other than its own has been replaced and answers nothing more (docs/CLUSTER.md, "Fencing"). Replicated as a
/// register that keeps the highest epoch: the number first, then the owner's name, so that two singletons that
/// claimed the same number are ordered too (only the higher one can ever confirm its epoch).
/// </summary>
/// <param name="Number">Increases by one with each singleton that takes over; 0 before the first.</param>
/// <param name="Owner">The singleton incarnation that claimed it (its actor path with UID); empty for <see cref="None"/>.</param>
internal sealed record StoreEpoch(long Number, string Owner) : IReplicatedData<StoreEpoch>, IComparable<StoreEpoch>
{
    /// <summary>No singleton yet: what a store that has never served reads.</summary>
    public static readonly StoreEpoch None = new(0, "");

    public int CompareTo(StoreEpoch? other)
    {
        if (other is null) return 1;
        var byNumber = Number.CompareTo(other.Number);
        return byNumber != 0 ? byNumber : string.CompareOrdinal(Owner, other.Owner);
    }

    public StoreEpoch Merge(StoreEpoch other) => CompareTo(other) >= 0 ? this : other;

    public IReplicatedData Merge(IReplicatedData other) => Merge((StoreEpoch)other);

    public override string ToString() => $"epoch {Number} ({(Owner.Length == 0 ? "none" : Owner)})";
}

/// <summary>The DistributedData key of the <see cref="StoreEpoch"/> register of the store whose keys start with <paramref name="prefix"/>.</summary>
internal sealed class StoreEpochKey(string prefix = ReplicaLayout.DefaultPrefix) : Key<StoreEpoch>($"{prefix}-epoch")
{
    /// <summary>The default store's.</summary>
    public static readonly StoreEpochKey Instance = new();
}
