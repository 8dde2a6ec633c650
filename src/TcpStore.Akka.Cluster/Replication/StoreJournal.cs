using System.Collections.Immutable;
using Akka.DistributedData;

namespace TcpStore.Akka.Cluster.Replication;

/// <summary>
/// The write-ahead journal of the store's changes: one entry per group commit, holding every change of that group
/// (all buckets, all connections), so that a group is replicated as one unit: a replica has all of it or none
/// (issue 13, hole 2). The singleton writes one entry at a time, so groups become durable in order and what
/// survives of a connection's requests is a prefix of them. Entries up to <see cref="TruncatedThrough"/> have been
/// copied into the buckets and are dropped.
/// </summary>
/// <remarks>
/// Merge: the higher <see cref="Generation"/> (the epoch of the singleton that wrote it) replaces the lower one
/// whole, so a journal written by a replaced singleton is void wherever its successor's has arrived; within one
/// generation the entries are united and the higher watermark wins. Each write's delta is a
/// <see cref="JournalDelta"/> of the same shape, so a replica that lacks the journal merges it as it is.
/// </remarks>
internal sealed class StoreJournal : IDeltaReplicatedData<StoreJournal, JournalDelta>
{
    public static readonly StoreJournal Empty = new(JournalContent.Empty, null);

    private readonly JournalDelta? _delta;

    private StoreJournal(JournalContent content, JournalDelta? delta)
    {
        Content = content;
        _delta = delta;
    }

    public JournalContent Content { get; }

    public StoreEpoch Generation => Content.Generation;

    public Stamp TruncatedThrough => Content.TruncatedThrough;

    public ImmutableSortedDictionary<Stamp, Change[]> Entries => Content.Entries;

    public static StoreJournal From(JournalContent content) => new(content, null);

    /// <summary>
    /// The singleton's write: merges <paramref name="part"/> (a group, a watermark, or a whole journal of a new
    /// generation) and remembers it as the delta to replicate.
    /// </summary>
    public StoreJournal Write(JournalContent part) =>
        new(JournalContent.Merge(Content, part), new JournalDelta(_delta is null ? part : JournalContent.Merge(_delta.Content, part)));

    public StoreJournal Merge(StoreJournal other) => new(JournalContent.Merge(Content, other.Content), null);

    public IReplicatedData Merge(IReplicatedData other) => Merge((StoreJournal)other);

    public JournalDelta Delta => _delta!;

    IReplicatedDelta IDeltaReplicatedData.Delta => _delta!;

    public StoreJournal MergeDelta(JournalDelta delta) => new(JournalContent.Merge(Content, delta.Content), null);

    IReplicatedData IDeltaReplicatedData.MergeDelta(IReplicatedDelta delta) => MergeDelta((JournalDelta)delta);

    public StoreJournal ResetDelta() => _delta is null ? this : new StoreJournal(Content, null);

    IReplicatedData IDeltaReplicatedData.ResetDelta() => ResetDelta();

    public override string ToString() => $"StoreJournal({Content})";
}

/// <summary>What one or more journal writes added: merged into a replica like a journal (see <see cref="StoreJournal"/>).</summary>
internal sealed class JournalDelta(JournalContent content) : IReplicatedDelta
{
    public JournalContent Content { get; } = content;

    public IDeltaReplicatedData Zero => StoreJournal.Empty;

    public IReplicatedData Merge(IReplicatedData other) => new JournalDelta(JournalContent.Merge(Content, ((JournalDelta)other).Content));

    public override string ToString() => $"JournalDelta({Content})";
}

/// <summary>A journal's content; <see cref="Merge"/> is the join both <see cref="StoreJournal"/> and its deltas use.</summary>
internal sealed record JournalContent(StoreEpoch Generation, Stamp TruncatedThrough, ImmutableSortedDictionary<Stamp, Change[]> Entries)
{
    public static readonly JournalContent Empty = new(StoreEpoch.None, Stamp.Zero, ImmutableSortedDictionary<Stamp, Change[]>.Empty);

    /// <summary>One group of <paramref name="generation"/>, and the watermark the writer has reached.</summary>
    public static JournalContent Group(StoreEpoch generation, Stamp stamp, Change[] changes, Stamp truncatedThrough) =>
        new(generation, truncatedThrough, ImmutableSortedDictionary<Stamp, Change[]>.Empty.Add(stamp, changes));

    public static JournalContent Merge(JournalContent a, JournalContent b)
    {
        var byGeneration = a.Generation.CompareTo(b.Generation);
        if (byGeneration > 0) return a;
        if (byGeneration < 0) return b;
        var truncated = Stamp.Max(a.TruncatedThrough, b.TruncatedThrough);
        var (large, small) = a.Entries.Count >= b.Entries.Count ? (a.Entries, b.Entries) : (b.Entries, a.Entries);
        var entries = large;
        if (small.Count > 0)
        {
            var builder = large.ToBuilder();
            foreach (var (stamp, changes) in small) builder.TryAdd(stamp, changes);
            entries = builder.ToImmutable();
        }
        if (entries.Count > 0 && entries.Keys.First() <= truncated)
            entries = entries.RemoveRange(entries.Keys.TakeWhile(stamp => stamp <= truncated).ToList());
        return new JournalContent(a.Generation, truncated, entries);
    }

    public override string ToString() =>
        $"{Generation}, truncated through {TruncatedThrough}, {Entries.Count} entries{(Entries.Count > 0 ? $" {Entries.Keys.First()}..{Entries.Keys.Last()}" : "")}";
}

/// <summary>The DistributedData key of the <see cref="StoreJournal"/> of the store whose keys start with <paramref name="prefix"/>.</summary>
internal sealed class StoreJournalKey(string prefix = ReplicaLayout.DefaultPrefix) : Key<StoreJournal>($"{prefix}-journal")
{
    /// <summary>The default store's.</summary>
    public static readonly StoreJournalKey Instance = new();
}
