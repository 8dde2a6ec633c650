using Akka.Actor;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// Issue 13, hole 6: a store singleton that fails is never restarted in place. The singleton as the singleton manager
/// starts it (its parent's supervision is the default, as under ClusterSingletonManager), reached through a node's
/// <see cref="StoreGateway"/>: when it fails, the gateway must see it go (Terminated), so that the connections it owed
/// answers close (StoreLost), and the next incarnation must serve.
/// </summary>
public sealed class StoreSingletonSpec : StoreSpec
{
    /// <summary>The gateway's parent in the test: tells the test what a guardian would be told.</summary>
    private sealed class GatewayParent : ReceiveActor
    {
        public GatewayParent(Props gateway, IActorRef test)
        {
            var child = Context.ActorOf(gateway, "store");
            Receive<StoreLost>(lost => test.Tell(lost));
            ReceiveAny(message => child.Forward(message));
        }
    }

    [Fact]
    public void A_failing_singleton_is_replaced_so_that_its_connections_close_and_the_next_one_serves()
    {
        var replicas = new ReplicaSet(1) { Members = 1 };
        var settings = Settings(storeSize: 1);
        var singleton = Sys.ActorOf(ClusterStoreProvider.SingletonProps(new StoreLimits(1000), settings, Sys.ActorOf(FakeReplicator.Props(replicas, 0))), "singleton");
        var gateway = Sys.ActorOf(Props.Create(() => new GatewayParent(StoreGateway.Props(singleton, settings), TestActor)));

        var waiter = CreateTestProbe();
        Send(gateway, waiter, new Query.Wait([B("/never")]));
        Assert.IsType<Reply.WaitPending>(waiter.ExpectMsg<Executed>().Replies.Single());

        // The next write's acknowledgement is one the store cannot have asked for: it fails.
        replicas.Writes = (_, _) => new WriteOutcome([], WriteReply.Corrupt);
        Send(gateway, CreateTestProbe(), new Query.Set(B("/other"), B("x")));
        ExpectMsg<StoreLost>(TimeSpan.FromSeconds(10));

        replicas.Writes = (node, _) => new WriteOutcome([], WriteReply.ByConsistency);
        Assert.Equal(3, Integer(Run(gateway, new Query.Add(B("/after"), 3)).Replies.Single()));
    }
}
