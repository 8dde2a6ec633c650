using System.Text;
using Akka.Actor;
using Akka.DistributedData;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TcpStore.Akka.Cluster;
using TcpStore.Protocol;
using TcpStore.Akka.Store;
using static TcpStore.Akka.Store.StoreProtocol;
using Bucket = Akka.DistributedData.LWWDictionary<string, byte[]>;
using ClusterExtension = Akka.Cluster.Cluster;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// The singleton's replication rules, with a <see cref="TestProbe"/> standing in for the DistributedData replicator:
/// nothing is served before the state is read back from a majority, and no reply leaves before the changes it may
/// reveal are on a majority.
/// </summary>
public sealed class ReplicatedStoreActorSpec : TestKit
{
    private const string ClusterConfig = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.loglevel = WARNING
        """;

    /// <summary>
    /// How long a probe must stay silent where these specs check that a reply is held: nothing is an event, so a
    /// bounded window is the check; the store's synchronous Tells would arrive within it.
    /// </summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private readonly TestProbe _replicator;

    public ReplicatedStoreActorSpec() : base(ClusterConfig)
    {
        _replicator = CreateTestProbe("replicator");
    }

    private static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    private static ClusterStoreSettings Settings(int buckets) =>
        new(Role: "", Buckets: buckets, WriteTimeout: TimeSpan.FromSeconds(3), ReadTimeout: TimeSpan.FromSeconds(3),
            IdentifyInterval: TimeSpan.FromSeconds(1));

    /// <summary>Starts the store and answers its reads: bucket 0 with <paramref name="bucket0"/>, the others empty.</summary>
    private IActorRef StartServing(int buckets, Bucket? bucket0 = null)
    {
        var store = Sys.ActorOf(ReplicatedStoreActor.Props(new StoreLimits(1000), Settings(buckets), _replicator.Ref));
        var layout = new ReplicaLayout(buckets);
        for (var i = 0; i < buckets; i++)
        {
            var get = _replicator.ExpectMsg<Get>();
            Assert.IsType<ReadMajority>(get.Consistency);
            var bucket = (int)get.Request!;
            Assert.Equal(layout.BucketKey(bucket), get.Key);
            store.Tell(bucket == 0 && bucket0 is not null
                ? new GetSuccess(get.Key, get.Request, bucket0)
                : new NotFound(get.Key, get.Request), _replicator.Ref);
        }
        return store;
    }

    private Update ExpectUpdate()
    {
        var update = _replicator.ExpectMsg<Update>();
        Assert.IsType<WriteMajority>(update.Consistency);
        return update;
    }

    private static Bucket Applied(Update update) => (Bucket)update.Modify(null!);

    [Fact]
    public void Serves_nothing_before_every_bucket_was_read_back_and_then_serves_what_was_read()
    {
        var self = ClusterExtension.Get(Sys).SelfUniqueAddress;
        var replicated = Bucket.Empty
            .SetItem(self, ReplicaLayout.EntryId(B("/a")), B("1"))
            .SetItem(self, ReplicaLayout.QueueId(B("/q")), ReplicaLayout.EncodeQueue([B("x"), B("y")]));
        var store = Sys.ActorOf(ReplicatedStoreActor.Props(new StoreLimits(1000), Settings(2), _replicator.Ref));
        var connection = CreateTestProbe();

        var first = _replicator.ExpectMsg<Get>();
        var second = _replicator.ExpectMsg<Get>();
        store.Tell(new Execute(connection.Ref, [new Query.Get(B("/a")), new Query.QueueLen(B("/q"))]), connection.Ref);
        store.Tell(new GetSuccess(first.Key, first.Request, replicated), _replicator.Ref);
        connection.ExpectNoMsg(Quiet); // one bucket is still unread

        store.Tell(new NotFound(second.Key, second.Request), _replicator.Ref);
        var executed = connection.ExpectMsg<Executed>();
        Assert.Equal(B("1"), Assert.IsType<Reply.Bytes>(executed.Replies[0]).Value);
        Assert.Equal(2, Assert.IsType<Reply.Integer>(executed.Replies[1]).Value);
    }

    [Fact]
    public void A_read_that_times_out_is_asked_again()
    {
        var store = Sys.ActorOf(ReplicatedStoreActor.Props(new StoreLimits(1000), Settings(1), _replicator.Ref));
        var get = _replicator.ExpectMsg<Get>();
        store.Tell(new GetFailure(get.Key, get.Request), _replicator.Ref);
        var again = _replicator.ExpectMsg<Get>();
        Assert.Equal(get.Key, again.Key);
    }

    [Fact]
    public void A_reply_after_a_change_is_held_until_a_majority_has_the_change()
    {
        var store = StartServing(buckets: 1);
        var writer = CreateTestProbe();
        var reader = CreateTestProbe();

        store.Tell(new Execute(writer.Ref, [new Query.Set(B("/x"), B("v")), new Query.Ping(7)]), writer.Ref);
        var update = ExpectUpdate();
        Assert.True(Applied(update).TryGetValue(ReplicaLayout.EntryId(B("/x")), out var value));
        Assert.Equal(B("v"), value);

        // Another connection's read would reveal the unreplicated value: held as well.
        store.Tell(new Execute(reader.Ref, [new Query.Get(B("/x"))]), reader.Ref);
        writer.ExpectNoMsg(Quiet); // held until the write is on a majority
        reader.ExpectNoMsg(TimeSpan.Zero); // the window above covered it too

        store.Tell(new UpdateSuccess(update.Key, update.Request), _replicator.Ref);
        Assert.Equal(7u, Assert.IsType<Reply.Pong>(writer.ExpectMsg<Executed>().Replies.Single()).Nonce);
        Assert.Equal(B("v"), Assert.IsType<Reply.Bytes>(reader.ExpectMsg<Executed>().Replies.Single()).Value);
    }

    [Fact]
    public void With_nothing_unreplicated_a_reply_leaves_at_once()
    {
        var store = StartServing(buckets: 1);
        var connection = CreateTestProbe();
        store.Tell(new Execute(connection.Ref, [new Query.Ping(1), new Query.Get(B("/missing"))]), connection.Ref);
        Assert.Equal(2, connection.ExpectMsg<Executed>().Replies.Count);
        _replicator.ExpectNoMsg(Quiet); // reads write nothing
    }

    [Fact]
    public void Changes_made_while_a_write_is_out_are_committed_together_in_the_next_write()
    {
        var store = StartServing(buckets: 1);
        var a = CreateTestProbe();
        var b = CreateTestProbe();
        var c = CreateTestProbe();

        store.Tell(new Execute(a.Ref, [new Query.Add(B("/n"), 1)]), a.Ref);
        var first = ExpectUpdate();
        store.Tell(new Execute(b.Ref, [new Query.Add(B("/n"), 10)]), b.Ref);
        store.Tell(new Execute(c.Ref, [new Query.Set(B("/s"), B("c")), new Query.Ping(3)]), c.Ref);
        _replicator.ExpectNoMsg(Quiet); // one write at a time

        store.Tell(new UpdateSuccess(first.Key, first.Request), _replicator.Ref);
        Assert.Equal(1, Assert.IsType<Reply.Integer>(a.ExpectMsg<Executed>().Replies.Single()).Value);
        var second = ExpectUpdate();
        var applied = Applied(second);
        Assert.True(applied.TryGetValue(ReplicaLayout.EntryId(B("/n")), out var counter));
        Assert.Equal(B("11"), counter);
        Assert.True(applied.ContainsKey(ReplicaLayout.EntryId(B("/s"))));
        b.ExpectNoMsg(Quiet); // held until the second write is on a majority
        c.ExpectNoMsg(TimeSpan.Zero); // the window above covered it too

        store.Tell(new UpdateSuccess(second.Key, second.Request), _replicator.Ref);
        Assert.Equal(11, Assert.IsType<Reply.Integer>(b.ExpectMsg<Executed>().Replies.Single()).Value);
        Assert.Equal(3u, Assert.IsType<Reply.Pong>(c.ExpectMsg<Executed>().Replies.Single()).Nonce);
    }

    [Fact]
    public void A_write_that_misses_its_majority_is_sent_again_and_its_replies_wait()
    {
        var store = StartServing(buckets: 1);
        var connection = CreateTestProbe();
        store.Tell(new Execute(connection.Ref, [new Query.Set(B("/k"), B("1")), new Query.Ping(9)]), connection.Ref);
        var update = ExpectUpdate();

        store.Tell(new UpdateTimeout(update.Key, update.Request), _replicator.Ref);
        var retry = ExpectUpdate();
        Assert.Equal(update.Key, retry.Key);
        Assert.True(Applied(retry).ContainsKey(ReplicaLayout.EntryId(B("/k"))));
        connection.ExpectNoMsg(Quiet); // still held: the retry is not on a majority yet

        store.Tell(new UpdateSuccess(retry.Key, retry.Request), _replicator.Ref);
        connection.ExpectMsg<Executed>();
    }

    [Fact]
    public void A_wake_up_waits_for_the_change_that_caused_it()
    {
        var store = StartServing(buckets: 1);
        var waiter = CreateTestProbe();
        var setter = CreateTestProbe();

        store.Tell(new Execute(waiter.Ref, [new Query.Wait([B("/go")])]), waiter.Ref);
        Assert.IsType<Reply.WaitPending>(waiter.ExpectMsg<Executed>().Replies.Single());

        store.Tell(new Execute(setter.Ref, [new Query.Set(B("/go"), B("1"))]), setter.Ref);
        var update = ExpectUpdate();
        waiter.ExpectNoMsg(Quiet); // STOP_WAITING would reveal /go

        store.Tell(new UpdateSuccess(update.Key, update.Request), _replicator.Ref);
        waiter.ExpectMsg<WaitCompleted>();
        setter.ExpectMsg<Executed>();
    }

    [Fact]
    public void Deletes_and_queue_changes_are_replicated_too()
    {
        var self = ClusterExtension.Get(Sys).SelfUniqueAddress;
        var store = StartServing(buckets: 1, Bucket.Empty.SetItem(self, ReplicaLayout.EntryId(B("/old")), B("x")));
        var connection = CreateTestProbe();

        store.Tell(new Execute(connection.Ref, [
            new Query.DeleteKey(B("/old")), new Query.QueuePush(B("/q"), B("a")), new Query.QueuePush(B("/q"), B("b")),
            new Query.QueuePop(B("/q")),
        ]), connection.Ref);
        var update = ExpectUpdate();
        var applied = Bucket.Empty.SetItem(self, ReplicaLayout.EntryId(B("/old")), B("x")).Merge(Applied(update));
        Assert.False(applied.ContainsKey(ReplicaLayout.EntryId(B("/old"))));
        Assert.True(applied.TryGetValue(ReplicaLayout.QueueId(B("/q")), out var queue));
        Assert.Equal([B("b")], ReplicaLayout.DecodeQueue(queue));
    }
}
