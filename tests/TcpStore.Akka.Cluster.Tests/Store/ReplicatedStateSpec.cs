using TcpStore.Akka.Cluster.Replication;
using TcpStore.Protocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// What a successor recovers when its predecessor died mid-write, read from chosen replicas: issue 13, holes 2 (a group
/// of changes is one replicated unit), 3 (recovered state is on a quorum before it is served) and 5 (a
/// writer-controlled order, not clocks, decides between replicas).
/// </summary>
public sealed class ReplicatedStateSpec : StoreSpec
{
    public static TheoryData<string> Groups() => ["SET then ADD", "MULTI_SET", "SET then BARRIER"];

    /// <summary>A batch whose changes fall into different buckets, and what each of them leaves behind.</summary>
    private static Query[] Group(string name) => name switch
    {
        "SET then ADD" => [new Query.Set(B("rank3/addr"), B("10.0.0.3:29500")), new Query.Add(B("arrived"), 1)],
        "MULTI_SET" => [new Query.MultiSet([new(B("rank3/addr"), B("10.0.0.3:29500")), new(B("arrived"), B("1")), new(B("rank3/port"), B("29500"))])],
        "SET then BARRIER" => [new Query.Set(B("rank3/addr"), B("10.0.0.3:29500")), new Query.Barrier(B("arrived"), 2)],
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Groups))]
    public void A_batch_survives_the_death_of_its_writer_whole_or_not_at_all(string name)
    {
        var layout = new ReplicaLayout(64);
        Assert.NotEqual(layout.BucketOf(B("rank3/addr")), layout.BucketOf(B("arrived"))); // else the test proves nothing

        var replicas = new ReplicaSet(3);
        var a = StartStore(replicas, 0);
        Run(a, new Query.Ping(1));

        // The writer's node dies once the first write after the batch has reached a quorum (its own replica and one
        // more): nothing after it leaves the node, and nothing is acknowledged.
        var writes = 0;
        replicas.Writes = (node, _) => Interlocked.Increment(ref writes) == 1
            ? new WriteOutcome([1], WriteReply.None)
            : new WriteOutcome([], WriteReply.None);
        var writer = CreateTestProbe();
        Send(a, writer, Group(name));
        AwaitCondition(() => Volatile.Read(ref writes) >= 1, TimeSpan.FromSeconds(10));
        Sys.Stop(a);
        writer.ExpectNoMsg(Quiet);

        replicas.Writes = (node, _) => new WriteOutcome(ReplicaSet.Others(node, 3).Where(r => r != 0).ToList(), WriteReply.ByConsistency);
        replicas.Reads = (node, _) => ReplicaSet.Others(node, 3).Where(r => r != 0).ToList();
        var b = StartStore(replicas, 1);
        var replies = Run(b, new Query.Get(B("rank3/addr")), new Query.Add(B("arrived"), 0)).Replies;
        var address = S(Value(replies[0]));
        var arrived = Integer(replies[1]);
        Assert.True((address, arrived) is ("", 0) or ("10.0.0.3:29500", 1),
            $"after the writer died, rank3/addr = \"{address}\" and arrived = {arrived}: part of one batch survived");
    }

    [Fact]
    public void A_value_a_successor_served_survives_the_next_failover()
    {
        // Five nodes. A's SET reaches one more replica (1) and is never acknowledged; A's node restarts empty.
        var replicas = new ReplicaSet(5);
        var a = StartStore(replicas, 0);
        Run(a, new Query.Ping(1));
        var writes = 0;
        replicas.Writes = (node, _) => node == 0 && Interlocked.Increment(ref writes) >= 1
            ? new WriteOutcome([1], WriteReply.None)
            : new WriteOutcome(ReplicaSet.Others(node, 5), WriteReply.ByConsistency);
        Send(a, CreateTestProbe(), new Query.Set(B("/x"), B("unacknowledged")));
        AwaitCondition(() => Volatile.Read(ref writes) >= 1, TimeSpan.FromSeconds(10));
        Sys.Stop(a);
        replicas.Wipe(0);

        // B (node 2) reads from itself, 1 and 3, so it sees /x and serves it; what it writes reaches 3 and 4.
        replicas.Writes = (node, _) => new WriteOutcome(node == 2 ? [3, 4] : ReplicaSet.Others(node, 5), WriteReply.ByConsistency);
        replicas.Reads = (node, _) => node == 2 ? [1, 3] : [0, 3];
        var b = StartStore(replicas, 2);
        Assert.Equal("unacknowledged", S(Value(Run(b, new Query.Get(B("/x"))).Replies[0])));
        Sys.Stop(b);

        // Nodes 1 and 2 fail (a minority of five). C (node 4) reads from itself, 0 and 3.
        replicas.Wipe(1);
        replicas.Wipe(2);
        var c = StartStore(replicas, 4);
        Assert.Equal("unacknowledged", S(Value(Run(c, new Query.Get(B("/x"))).Replies[0])));
    }

    [Fact]
    public void Whatever_the_clocks_a_stale_replica_cannot_bring_back_a_popped_item_or_a_deleted_value()
    {
        // P wrote /q = [a] and /k = "old" to replicas 1 and 2, then died. (Before issue 13's fix, replicas ordered
        // values by the writer's wall clock, and P's ran an hour ahead: this test seeded P's values with such stamps.
        // Now the order is the writers' epochs and sequence numbers, and no clock is read at all.)
        var replicas = new ReplicaSet(3);
        SeedPredecessor(replicas, [1, 2], B("/k"), B("old"), B("/q"), [B("a")]);

        // A (node 0) reads them back from replicas 0 and 1 and writes to 0 and 1 only; replica 2 misses it all.
        replicas.Writes = (node, _) => new WriteOutcome(node == 0 ? [1] : ReplicaSet.Others(node, 3), WriteReply.ByConsistency);
        replicas.Reads = (_, _) => [1];
        var a = StartStore(replicas, 0);
        var popped = Run(a, new Query.QueuePop(B("/q")), new Query.DeleteKey(B("/k"))).Replies;
        Assert.Equal("a", S(Assert.IsType<Reply.QueueItem>(popped[0]).Value!));
        Run(a, new Query.QueuePush(B("/q"), B("b")), new Query.Set(B("/k"), B("new")), new Query.Ping(2));
        Sys.Stop(a);

        // B (node 2) reads its own stale replica and 1.
        var b = StartStore(replicas, 2);
        var replies = Run(b, new Query.Get(B("/k")), new Query.QueueLen(B("/q")), new Query.QueuePop(B("/q"))).Replies;
        Assert.Equal("new", S(Value(replies[0])));
        Assert.Equal(1, Integer(replies[1]));
        Assert.Equal("b", S(Assert.IsType<Reply.QueueItem>(replies[2]).Value!));
    }

    /// <summary>Replicas hold what a predecessor (epoch 1, on another node) wrote and copied into its buckets.</summary>
    private static void SeedPredecessor(ReplicaSet replicas, int[] onto, byte[] key, byte[] value, byte[] queue, byte[][] items)
    {
        var predecessor = new StoreEpoch(1, "akka.tcp://tcpstore@10.0.0.9:4051/user/tcpstore/singleton/store/store-1#9");
        var layout = new ReplicaLayout(64);
        var buckets = new Dictionary<int, List<KeyValuePair<string, Stamped>>>();
        void Put(string id, byte[] data)
        {
            var bucket = layout.BucketOfId(id);
            if (!buckets.TryGetValue(bucket, out var list)) buckets[bucket] = list = [];
            list.Add(new(id, new Stamped(new Stamp(1, 5), data)));
        }
        Put(ReplicaLayout.EntryId(key), value);
        Put(ReplicaLayout.QueueId(queue), ReplicaLayout.EncodeQueue(items));
        foreach (var replica in onto)
        {
            replicas.Seed(replica, StoreEpochKey.Instance.Id, predecessor);
            replicas.Seed(replica, StoreJournalKey.Instance.Id, StoreJournal.From(new JournalContent(predecessor, new Stamp(1, 5), JournalContent.Empty.Entries)));
            foreach (var (bucket, list) in buckets)
                replicas.Seed(replica, layout.BucketKey(bucket).Id, StoreBucket.From(BucketContent.Of(predecessor, list)));
        }
    }
}
