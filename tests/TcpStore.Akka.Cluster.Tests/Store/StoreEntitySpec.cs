using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.DistributedData;
using Akka.TestKit;
using TcpStore.Akka.Cluster.Replication;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// A named store's sharded entity (<see cref="StoreEntity"/>): it starts its store at the first probe, on keys of its
/// own; it replaces a failed store with a new incarnation as the singleton's parent does; and a removal stops the store
/// and deletes every one of its keys before it answers. The test actor is the entity's parent (the shard).
/// </summary>
public sealed class StoreEntitySpec : StoreSpec
{
    private const string EntityId = "job-7.5eed";

    [Fact]
    public void The_first_probe_starts_the_store_on_keys_of_its_own_and_the_store_itself_answers_the_prober()
    {
        var replicator = CreateTestProbe();
        var entity = ChildActorOf(StoreEntity.Props(EntityId, Settings(storeSize: 3, buckets: 4), replicator.Ref));
        var gateway = CreateTestProbe();

        entity.Tell(new FindStore(EntityId, 1000), gateway.Ref);

        // The takeover begins with the store's own epoch key, never the default store's.
        var read = replicator.ExpectMsg<Get>();
        Assert.Equal("tcpstore.job-7.5eed-epoch", read.Key.Id);
        Assert.NotEqual(StoreEpochKey.Instance.Id, read.Key.Id);
        Assert.Equal("tcpstore.job-7.5eed-bucket-3", new ReplicaLayout(4, ReplicaLayout.PrefixOf(EntityId)).BucketKey(3).Id);
        gateway.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the stats wait for the takeover (stashed by the store)
    }

    [Fact]
    public void A_failed_store_is_replaced_by_a_new_incarnation_that_serves()
    {
        var replicas = new ReplicaSet(1) { Members = 1 };
        var entity = ChildActorOf(StoreEntity.Props(EntityId, Settings(storeSize: 1), Sys.ActorOf(FakeReplicator.Props(replicas, 0))));
        var gateway = CreateTestProbe();
        entity.Tell(new FindStore(EntityId, 1000), gateway.Ref);
        gateway.ExpectMsg<StoreStats>(TimeSpan.FromSeconds(10));
        var first = gateway.LastSender;
        Assert.Equal("store-1", first.Path.Name);
        Assert.Equal(2, Execute(first, new Query.Add(B("/n"), 2)));

        var watcher = CreateTestProbe();
        watcher.Watch(first);
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(global::Akka.Event.Warning));
        replicas.Writes = (_, _) => new WriteOutcome([], WriteReply.Corrupt); // its next write fails it
        first.Tell(new Execute(CreateTestProbe().Ref, [new Query.Add(B("/n"), 1)]));
        watcher.ExpectTerminated(first, TimeSpan.FromSeconds(10));
        // Its successors fail on the same write, but they are started at most once per retry-interval (50 ms here):
        // the first at once, the next two 50 ms apart.
        var replaced = Enumerable.Range(0, 4).Select(_ => warnings.FishForMessage<global::Akka.Event.Warning>(
            w => w.Message.ToString()!.Contains("stopped; starting a new one"), TimeSpan.FromSeconds(5)).Timestamp).ToList();
        Assert.True(replaced[3] - replaced[0] >= TimeSpan.FromMilliseconds(90),
            $"four replacements in {(replaced[3] - replaced[0]).TotalMilliseconds} ms");
        replicas.Writes = (_, _) => new WriteOutcome([], WriteReply.ByConsistency);

        // Probed again until a store answers, as the gateways do: a probe can reach an incarnation that started
        // before the write was mended and fails with it (its stashed probe goes with it).
        AwaitAssert(() =>
        {
            entity.Tell(new FindStore(EntityId, 1000), gateway.Ref);
            gateway.ExpectMsg<StoreStats>(TimeSpan.FromSeconds(1));
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        var second = gateway.LastSender;
        // A new incarnation (a few may have failed on the same broken write before it was mended: each is replaced).
        Assert.NotEqual(first, second);
        Assert.Matches("^store-[0-9]+$", second.Path.Name);
        // The state read back from the replicas: the acknowledged ADD 2 is there; the ADD 1 that failed the first store
        // was never acknowledged, so it may be there or not (as after any failover).
        Assert.Contains(Execute(second, new Query.Add(B("/n"), 3)), new[] { 5L, 6L });
    }

    [Fact]
    public void A_removal_stops_the_store_deletes_all_its_keys_from_a_quorum_then_answers_and_passivates()
    {
        var replicator = CreateTestProbe();
        const int buckets = 4;
        var entity = ChildActorOf(StoreEntity.Props(EntityId, Settings(storeSize: 3, buckets: buckets), replicator.Ref));
        entity.Tell(new FindStore(EntityId, 1000), CreateTestProbe().Ref);
        replicator.ExpectMsg<Get>(); // the store is taking over
        var store = replicator.LastSender;
        var watcher = CreateTestProbe();
        watcher.Watch(store);

        var remover = CreateTestProbe();
        entity.Tell(new DropStore(EntityId), remover.Ref);
        watcher.ExpectTerminated(store);

        var deletes = Enumerable.Range(0, 2 + buckets).Select(_ => replicator.ExpectMsg<Delete>()).ToList();
        var layout = new ReplicaLayout(buckets, ReplicaLayout.PrefixOf(EntityId));
        Assert.Equal(layout.AllKeys.Select(k => k.Id).Order(), deletes.Select(d => d.Key.Id).Order());
        Assert.All(deletes, d => Assert.Equal(2, Assert.IsType<WriteTo>(d.Consistency).Count));

        // One delete fails (no quorum): it alone is sent again; the answer waits for it.
        entity.Tell(new ReplicationDeleteFailure(deletes[0].Key), replicator.Ref);
        foreach (var delete in deletes.Skip(1)) entity.Tell(new DeleteSuccess(delete.Key, delete.Request), replicator.Ref);
        remover.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        var again = replicator.ExpectMsg<Delete>(TimeSpan.FromSeconds(5));
        Assert.Equal(deletes[0].Key.Id, again.Key.Id);
        entity.Tell(new DeleteSuccess(again.Key, again.Request), replicator.Ref);

        Assert.Equal(EntityId, remover.ExpectMsg<StoreDropped>().EntityId);
        Assert.Equal(StoreEntity.HandOff.Instance, ExpectMsg<Passivate>().StopMessage);
    }

    private long Execute(IActorRef store, Query query)
    {
        var connection = CreateTestProbe();
        store.Tell(new Execute(connection.Ref, [query]), connection.Ref);
        return Integer(connection.ExpectMsg<Executed>(TimeSpan.FromSeconds(10)).Replies.Single());
    }
}
