using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// Issue 13, hole 9: group commit amortizes one quorum write over every change that arrived while the previous write
/// was out, across buckets and connections.
/// </summary>
public sealed class GroupCommitSpec : StoreSpec
{
    [Fact]
    public void The_changes_of_many_connections_in_many_buckets_go_out_as_one_write()
    {
        var replicas = new ReplicaSet(3);
        var store = StartStore(replicas, 0);
        Run(store, new Query.Ping(0));

        replicas.Writes = (node, _) => new WriteOutcome(ReplicaSet.Others(node, 3), WriteReply.Hold);
        var first = CreateTestProbe();
        Send(store, first, new Query.Set(B("/rank/0"), B("0")), new Query.Ping(0));
        AwaitCondition(() => replicas.HeldCount == 1, TimeSpan.FromSeconds(10));

        const int connections = 63;
        var layout = new ReplicaLayout(64);
        var keys = Enumerable.Range(1, connections).Select(i => B($"/rank/{i}")).ToList();
        Assert.True(keys.Select(layout.BucketOf).Distinct().Count() > 30, "the keys should spread over many buckets");
        var clients = keys.Select(key =>
        {
            var client = CreateTestProbe();
            Send(store, client, new Query.Set(key, B("v")), new Query.Ping(1));
            return client;
        }).ToList();
        store.Tell(GetStats.Instance, TestActor);
        ExpectMsg<StoreStats>(TimeSpan.FromSeconds(10)); // answered at once: every batch above has run

        var before = replicas.UpdateCount;
        replicas.ReleaseHeld();
        AwaitCondition(() => replicas.UpdateCount > before, TimeSpan.FromSeconds(10));
        ExpectNoMsg(Quiet); // the store has nothing else to send until that write is acknowledged
        var writes = replicas.UpdateCount - before;
        Assert.True(writes == 1, $"the changes of {connections} connections in {keys.Select(layout.BucketOf).Distinct().Count()} buckets went out as {writes} writes");

        replicas.Writes = (node, _) => new WriteOutcome(ReplicaSet.Others(node, 3), WriteReply.ByConsistency);
        replicas.ReleaseHeld();
        first.ExpectMsg<Executed>(TimeSpan.FromSeconds(10));
        foreach (var client in clients) client.ExpectMsg<Executed>(TimeSpan.FromSeconds(10));
    }
}
