using Akka.Actor;
using Akka.DistributedData;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>What a replicator does with one write: which other replicas receive it, and what the writer is told.</summary>
/// <param name="Others">The replicas (besides the writer's own) that merge the write.</param>
/// <param name="Reply">The writer's answer; <see cref="WriteReply.None"/>: none at all (the writer's node dies first).</param>
internal sealed record WriteOutcome(IReadOnlyList<int> Others, WriteReply Reply);

internal enum WriteReply
{
    /// <summary>UpdateSuccess when enough replicas have it for the write's consistency, else UpdateTimeout.</summary>
    ByConsistency,
    Timeout,
    None,

    /// <summary>Kept until <see cref="ReplicaSet.ReleaseHeld"/>, then answered by consistency (a slow quorum).</summary>
    Hold,

    /// <summary>UpdateSuccess with a request the writer never made: a reply it cannot have caused.</summary>
    Corrupt,
}

/// <summary>
/// The replicas of a simulated cluster, one per node, shared by that cluster's <see cref="FakeReplicator"/>s. Each
/// replica is a map from key id to replicated data, written and merged exactly as Akka.DistributedData merges
/// (<see cref="IReplicatedData.Merge"/>, deltas through <see cref="IDeltaReplicatedData.MergeDelta"/>). A test decides
/// which replicas each write and each read reach (<see cref="Writes"/>, <see cref="Reads"/>), how many nodes the
/// replicators see as members (<see cref="Members"/>), and may wipe a replica (a node that restarts empty).
/// </summary>
internal sealed class ReplicaSet(int replicas)
{
    private readonly Dictionary<string, IReplicatedData>[] _replicas =
        Enumerable.Range(0, replicas).Select(_ => new Dictionary<string, IReplicatedData>()).ToArray();

    public int Count => _replicas.Length;

    /// <summary>How many store nodes each replicator sees as Up members (WriteMajority/ReadMajority count these).</summary>
    public int Members { get; set; } = replicas;

    /// <summary>Where a write of node N goes; default: every other replica, answered by its consistency.</summary>
    public Func<int, Update, WriteOutcome> Writes { get; set; } = (node, _) => new WriteOutcome(Others(node, replicas), WriteReply.ByConsistency);

    /// <summary>Which other replicas a quorum read of node N merges; default: every other replica.</summary>
    public Func<int, Get, IReadOnlyList<int>> Reads { get; set; } = (node, _) => Others(node, replicas);

    /// <summary>Every update the replicators received, in order, with the node that sent it.</summary>
    public List<(int Node, Update Update)> Updates { get; } = [];

    private readonly List<(IActorRef To, IActorRef From, object Reply)> _held = [];

    public int UpdateCount
    {
        get
        {
            lock (this) return Updates.Count;
        }
    }

    public int HeldCount
    {
        get
        {
            lock (this) return _held.Count;
        }
    }

    /// <summary>Answers every write kept by <see cref="WriteReply.Hold"/>, in order.</summary>
    public void ReleaseHeld()
    {
        List<(IActorRef To, IActorRef From, object Reply)> held;
        lock (this)
        {
            held = [.. _held];
            _held.Clear();
        }
        foreach (var (to, from, reply) in held) to.Tell(reply, from);
    }

    public static IReadOnlyList<int> Others(int node, int count) => Enumerable.Range(0, count).Where(i => i != node).ToList();

    /// <summary>A replica restarts empty (its node was replaced).</summary>
    public void Wipe(int replica)
    {
        lock (this) _replicas[replica].Clear();
    }

    public IReplicatedData? Peek(int replica, string key)
    {
        lock (this) return _replicas[replica].GetValueOrDefault(key);
    }

    /// <summary>Puts <paramref name="data"/> into a replica, merged with what it holds (a predecessor's write).</summary>
    public void Seed(int replica, string key, IReplicatedData data)
    {
        lock (this) Merge(replica, key, data);
    }

    internal object? Update(int node, Update update, IActorRef writer, IActorRef replicator)
    {
        lock (this)
        {
            Updates.Add((node, update));
            var outcome = Writes(node, update);
            var local = _replicas[node].GetValueOrDefault(update.Key.Id);
            var modified = update.Modify(local!);
            IReplicatedData? delta = null;
            if (modified is IDeltaReplicatedData withDelta)
            {
                delta = withDelta.Delta;
                modified = withDelta.ResetDelta();
            }

            var merged = local is null ? modified : local.Merge(modified);
            _replicas[node][update.Key.Id] = merged;
            foreach (var other in outcome.Others)
            {
                // As the replicator sends it: the delta when it needs no causal order, else the whole new state.
                if (delta is IReplicatedDelta d and not IRequireCausualDeliveryOfDeltas) MergeDelta(other, update.Key.Id, d);
                else Merge(other, update.Key.Id, merged);
            }

            var written = 1 + outcome.Others.Count;
            object byConsistency = written >= Needed(update.Consistency)
                ? new UpdateSuccess(update.Key, update.Request)
                : new UpdateTimeout(update.Key, update.Request);
            switch (outcome.Reply)
            {
                case WriteReply.None:
                    return null;
                case WriteReply.Timeout:
                    return new UpdateTimeout(update.Key, update.Request);
                case WriteReply.Corrupt:
                    return new UpdateSuccess(update.Key, "a request the store never made");
                case WriteReply.Hold:
                    _held.Add((writer, replicator, byConsistency));
                    return null;
                default:
                    return byConsistency;
            }
        }
    }

    internal object Get(int node, Get get)
    {
        lock (this)
        {
            var local = _replicas[node].GetValueOrDefault(get.Key.Id);
            if (get.Consistency is ReadLocal || (get.Consistency is ReadMajority && Members <= 1))
                return local is null ? new NotFound(get.Key, get.Request) : new GetSuccess(get.Key, get.Request, local);
            var sources = Reads(node, get);
            if (1 + sources.Count < Needed(get.Consistency)) return new GetFailure(get.Key, get.Request);
            var result = local;
            foreach (var source in sources)
            {
                if (_replicas[source].GetValueOrDefault(get.Key.Id) is { } data)
                    result = result is null ? data : result.Merge(data);
            }
            if (result is null) return new NotFound(get.Key, get.Request);
            _replicas[node][get.Key.Id] = result; // read repair, locally
            return new GetSuccess(get.Key, get.Request, result);
        }
    }

    /// <summary>Replicas (the writer's or reader's own included) a consistency needs, as Akka's aggregators count them.</summary>
    private int Needed(object consistency) => consistency switch
    {
        WriteLocal or ReadLocal => 1,
        WriteMajority w => Members <= 1 ? 1 : Math.Min(Members, Math.Max(Members / 2 + 1, w.MinCapacity)),
        ReadMajority r => Members <= 1 ? 1 : Math.Min(Members, Math.Max(Members / 2 + 1, r.MinCapacity)),
        WriteTo w => Members < w.Count ? int.MaxValue : w.Count, // too few members: refused at once
        ReadFrom r => Members < r.N ? int.MaxValue : r.N,
        WriteAll or ReadAll => Members,
        _ => throw new ArgumentException($"unexpected consistency {consistency}"),
    };

    private void Merge(int replica, string key, IReplicatedData data) =>
        _replicas[replica][key] = _replicas[replica].TryGetValue(key, out var existing) ? existing.Merge(data) : data;

    private void MergeDelta(int replica, string key, IReplicatedDelta delta) =>
        _replicas[replica][key] = _replicas[replica].TryGetValue(key, out var existing)
            ? ((IDeltaReplicatedData)existing).MergeDelta(delta)
            : delta.Zero.MergeDelta(delta);
}

/// <summary>
/// A stand-in for one node's DistributedData replicator over a <see cref="ReplicaSet"/>: Update and Get are answered at
/// once, as the set's policies say. Unlike a <see cref="Akka.TestKit.TestProbe"/>, it needs no script of the store's
/// messages, so a test states what the replicas hold and reach rather than how the store talks to them.
/// </summary>
internal sealed class FakeReplicator : ReceiveActor
{
    public static Props Props(ReplicaSet replicas, int node) =>
        global::Akka.Actor.Props.Create(() => new FakeReplicator(replicas, node));

    public FakeReplicator(ReplicaSet replicas, int node)
    {
        Receive<Update>(update =>
        {
            if (replicas.Update(node, update, Sender, Self) is { } reply) Sender.Tell(reply);
        });
        Receive<Get>(get => Sender.Tell(replicas.Get(node, get)));
    }
}
