using Akka.Cluster;
using Akka.DistributedData;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// Issue 13, hole 4: quorums are over the configured number of store nodes, not over whatever membership exists now.
/// A real DistributedData replicator on a one-node cluster whose store size is three: the node must not serve alone.
/// </summary>
public sealed class QuorumSpec : StoreSpec
{
    [Fact]
    public void A_node_alone_in_a_three_node_store_serves_nothing()
    {
        var cluster = global::Akka.Cluster.Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
        AwaitCondition(() => cluster.SelfMember.Status == MemberStatus.Up, TimeSpan.FromSeconds(20));

        var store = Sys.ActorOf(ReplicatedStoreActor.Props(new StoreLimits(1000), Settings(storeSize: 3), DistributedData.Get(Sys).Replicator));
        var client = CreateTestProbe();
        Send(store, client, new Query.Set(B("/alone"), B("v")), new Query.Ping(1));
        Send(store, client, new Query.Get(B("/alone")));

        // Nothing to await: a quorum of two cannot form, so the store must stay silent however long one watches.
        var answer = client.ReceiveOne(TimeSpan.FromSeconds(3));
        Assert.True(answer is null, $"a store of three nodes served with one node: {(answer is Executed e ? string.Join(", ", e.Replies) : answer)}");
    }
}
