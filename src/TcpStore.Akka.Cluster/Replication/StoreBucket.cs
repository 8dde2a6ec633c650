using System.Collections.Immutable;
using Akka.DistributedData;

namespace TcpStore.Akka.Cluster.Replication;

/// <summary>A replicated value and the stamp of the change that set it; a null value is a tombstone.</summary>
internal readonly record struct Stamped(Stamp Stamp, byte[]? Value);

/// <summary>
/// One bucket of the store's state (the map entries and queues whose key hashes to it, <see cref="ReplicaLayout"/>):
/// what the journal's entries leave behind once they are copied out of it. Every item carries the
/// <see cref="Stamp"/> of its last change, deletions and emptied queues stay as tombstones, and a merge keeps the
/// item with the higher stamp: a writer-controlled order, whatever the clocks say (issue 13, hole 5).
/// </summary>
/// <remarks>
/// The higher <see cref="Generation"/> replaces the lower one whole: a new singleton writes every bucket anew in its
/// own generation before it serves (issue 13, hole 3), which also voids anything a replaced singleton writes late.
/// Items are kept in ordinal order so that equal buckets serialize to equal bytes on every node (the replicator's
/// gossip compares digests of them).
/// </remarks>
internal sealed class StoreBucket : IDeltaReplicatedData<StoreBucket, BucketDelta>
{
    public static readonly StoreBucket Empty = new(BucketContent.Empty, null);

    private readonly BucketDelta? _delta;

    private StoreBucket(BucketContent content, BucketDelta? delta)
    {
        Content = content;
        _delta = delta;
    }

    public BucketContent Content { get; }

    public StoreEpoch Generation => Content.Generation;

    public ImmutableSortedDictionary<string, Stamped> Items => Content.Items;

    public static StoreBucket From(BucketContent content) => new(content, null);

    /// <summary>The singleton's write: merges <paramref name="part"/> and remembers it as the delta to replicate.</summary>
    public StoreBucket Write(BucketContent part) =>
        new(BucketContent.Merge(Content, part), new BucketDelta(_delta is null ? part : BucketContent.Merge(_delta.Content, part)));

    public StoreBucket Merge(StoreBucket other) => new(BucketContent.Merge(Content, other.Content), null);

    public IReplicatedData Merge(IReplicatedData other) => Merge((StoreBucket)other);

    public BucketDelta Delta => _delta!;

    IReplicatedDelta IDeltaReplicatedData.Delta => _delta!;

    public StoreBucket MergeDelta(BucketDelta delta) => new(BucketContent.Merge(Content, delta.Content), null);

    IReplicatedData IDeltaReplicatedData.MergeDelta(IReplicatedDelta delta) => MergeDelta((BucketDelta)delta);

    public StoreBucket ResetDelta() => _delta is null ? this : new StoreBucket(Content, null);

    IReplicatedData IDeltaReplicatedData.ResetDelta() => ResetDelta();

    public override string ToString() => $"StoreBucket({Content})";
}

/// <summary>What one or more bucket writes changed: merged into a replica like a bucket.</summary>
internal sealed class BucketDelta(BucketContent content) : IReplicatedDelta
{
    public BucketContent Content { get; } = content;

    public IDeltaReplicatedData Zero => StoreBucket.Empty;

    public IReplicatedData Merge(IReplicatedData other) => new BucketDelta(BucketContent.Merge(Content, ((BucketDelta)other).Content));

    public override string ToString() => $"BucketDelta({Content})";
}

/// <summary>A bucket's content; <see cref="Merge"/> is the join both <see cref="StoreBucket"/> and its deltas use.</summary>
internal sealed record BucketContent(StoreEpoch Generation, ImmutableSortedDictionary<string, Stamped> Items)
{
    public static readonly ImmutableSortedDictionary<string, Stamped> NoItems =
        ImmutableSortedDictionary.Create<string, Stamped>(StringComparer.Ordinal);

    public static readonly BucketContent Empty = new(StoreEpoch.None, NoItems);

    public static BucketContent Of(StoreEpoch generation, IEnumerable<KeyValuePair<string, Stamped>> items) =>
        new(generation, NoItems.AddRange(items));

    public static BucketContent Merge(BucketContent a, BucketContent b)
    {
        var byGeneration = a.Generation.CompareTo(b.Generation);
        if (byGeneration > 0) return a;
        if (byGeneration < 0) return b;
        var (large, small) = a.Items.Count >= b.Items.Count ? (a.Items, b.Items) : (b.Items, a.Items);
        if (small.Count == 0) return large == a.Items ? a : b;
        var builder = large.ToBuilder();
        foreach (var (id, item) in small)
        {
            if (!builder.TryGetValue(id, out var current) || current.Stamp < item.Stamp) builder[id] = item;
        }
        return new BucketContent(a.Generation, builder.ToImmutable());
    }

    public override string ToString() => $"{Generation}, {Items.Count} items";
}

/// <summary>The DistributedData key of bucket <c>N</c> of the store whose keys start with <paramref name="prefix"/>.</summary>
internal sealed class StoreBucketKey(int bucket, string prefix = ReplicaLayout.DefaultPrefix) : Key<StoreBucket>($"{prefix}-bucket-{bucket}");
