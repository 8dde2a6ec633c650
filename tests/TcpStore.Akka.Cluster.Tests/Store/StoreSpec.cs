using System.Text;
using Akka.Actor;
using Akka.TestKit;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// What the singleton specs share: an actor system with the cluster provider (the singleton reads its own address),
/// settings, and singletons started over <see cref="FakeReplicator"/>s, one per simulated node.
/// </summary>
public abstract class StoreSpec(string extraConfig = "") : global::Akka.TestKit.Xunit2.TestKit(extraConfig + "\n" + ClusterConfig)
{
    protected const string ClusterConfig = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.loglevel = WARNING
        akka.log-dead-letters = off
        """;

    /// <summary>How long a spec watches for a message that must not come.</summary>
    protected static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    protected static byte[] B(string text) => Encoding.UTF8.GetBytes(text);

    protected static string S(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    internal static ClusterStoreSettings Settings(int storeSize = 3, int buckets = 64, int journalLimit = 4096, TimeSpan? lease = null) =>
        new(Role: "", StoreSize: storeSize, Buckets: buckets, WriteTimeout: TimeSpan.FromSeconds(3), ReadTimeout: TimeSpan.FromSeconds(3),
            IdentifyInterval: TimeSpan.FromMilliseconds(200), RetryInterval: TimeSpan.FromMilliseconds(50), JournalLimit: journalLimit,
            FencedRestartDelay: TimeSpan.FromSeconds(5), SingletonRemovalMargin: TimeSpan.FromMilliseconds(100), Lease: lease ?? TimeSpan.Zero,
            Rebalance: false, CatalogTimeout: TimeSpan.FromSeconds(3), CatalogInterval: TimeSpan.FromMilliseconds(200));

    /// <summary>A store singleton on node <paramref name="node"/> of <paramref name="replicas"/>.</summary>
    internal IActorRef StartStore(ReplicaSet replicas, int node, ClusterStoreSettings? settings = null) =>
        Sys.ActorOf(ReplicatedStoreActor.Props(new StoreLimits(1000), settings ?? Settings(replicas.Count),
            Sys.ActorOf(FakeReplicator.Props(replicas, node))));

    /// <summary>Runs one batch for a fresh connection and returns its replies (bounded wait).</summary>
    protected Executed Run(IActorRef store, params Query[] queries)
    {
        var connection = CreateTestProbe();
        store.Tell(new Execute(connection.Ref, queries), connection.Ref);
        return connection.ExpectMsg<Executed>(TimeSpan.FromSeconds(10));
    }

    /// <summary>Sends one batch for <paramref name="connection"/>.</summary>
    protected static void Send(IActorRef store, TestProbe connection, params Query[] queries) =>
        store.Tell(new Execute(connection.Ref, queries), connection.Ref);

    protected static byte[] Value(Reply reply) => Assert.IsType<Reply.Bytes>(reply).Value;

    protected static long Integer(Reply reply) => Assert.IsType<Reply.Integer>(reply).Value;
}
