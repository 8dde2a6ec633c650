using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using TcpStore.Akka.Cluster.Serialization;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// The singleton's replies to connections on another node go to that node's gateway in one <see cref="NodeReplies"/>:
/// a second actor system plays the other node (its connections and its gateway are remote refs to the store).
/// </summary>
public sealed class NodeBatchSpec() : StoreSpec(SerializerConfig)
{
    /// <summary>The cluster serializer bound as WithTcpStoreCluster binds it, so that the batches cross systems.</summary>
    private static string SerializerConfig
    {
        get
        {
            var serializer = typeof(StoreMessageSerializer);
            var bindings = string.Join("\n", StoreMessageSerializer.MessageTypes.Select(t => $"\"{t.FullName}, {t.Assembly.GetName().Name}\" = tcpstore"));
            return $$"""
                akka.actor.serializers.tcpstore = "{{serializer.FullName}}, {{serializer.Assembly.GetName().Name}}"
                akka.actor.serialization-identifiers { "{{serializer.FullName}}, {{serializer.Assembly.GetName().Name}}" = {{StoreMessageSerializer.SerializerId}} }
                akka.actor.serialization-bindings {
                {{bindings}}
                }
                """;
        }
    }

    [Fact]
    public async Task Replies_for_another_nodes_connections_go_to_its_gateway_in_one_message()
    {
        var otherNode = ActorSystem.Create(Sys.Name, ConfigurationFactory.ParseString(SerializerConfig + "\n" + ClusterConfig));
        try
        {
            var replicas = new ReplicaSet(1) { Members = 1 };
            var store = StartStore(replicas, 0, Settings(storeSize: 1));
            Run(store, new Query.Ping(0));

            var gateway = new TestProbe(otherNode, new global::Akka.TestKit.Xunit2.XunitAssertions(), "gateway");
            var connections = Enumerable.Range(0, 3).Select(i => new TestProbe(otherNode, new global::Akka.TestKit.Xunit2.XunitAssertions(), $"connection-{i}")).ToList();
            var storeThere = await otherNode.ActorSelection(store.Path.ToStringWithAddress(((ExtendedActorSystem)Sys).Provider.DefaultAddress))
                .ResolveOne(TimeSpan.FromSeconds(10));

            storeThere.Tell(new NodeRequests([
                new Execute(connections[0].Ref, [new Query.Add(B("/n"), 1)]),
                new Execute(connections[1].Ref, [new Query.Wait([B("/go")])]),
                new Execute(connections[2].Ref, [new Query.Get(B("/n"))]),
            ]), gateway.Ref);

            var replies = gateway.ExpectMsg<NodeReplies>(TimeSpan.FromSeconds(10)).Deliveries;
            Assert.Equal(connections.Select(c => c.Ref.Path), replies.Select(d => d.Connection.Path));
            Assert.Equal(1, Integer(Assert.IsType<Executed>(replies[0].Message).Replies.Single()));
            Assert.IsType<Reply.WaitPending>(Assert.IsType<Executed>(replies[1].Message).Replies.Single());
            Assert.Equal("1", S(Value(Assert.IsType<Executed>(replies[2].Message).Replies.Single())));
            foreach (var connection in connections) connection.ExpectNoMsg(TimeSpan.Zero); // all of it through the gateway
        }
        finally
        {
            await otherNode.Terminate();
        }
    }
}
