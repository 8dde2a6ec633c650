using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using TcpStore.Akka.Client;
using TcpStore.Akka.Cluster.Replication;
using TcpStore.Akka.Cluster.Serialization;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Hosting;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Hosting;

/// <summary>
/// Cluster mode as a host turns it on: <c>AddAkka(... WithTcpStoreCluster(...))</c> on a one-node cluster, with no
/// HOCON about the store or its serializer besides what the builder writes.
/// </summary>
public sealed class WithTcpStoreClusterTests : IAsyncLifetime
{
    /// <summary>What the host brings itself: a cluster (as Akka.Cluster.Hosting's WithRemoting/WithClustering would
    /// write it) whose node has the store's role.</summary>
    private const string ClusterHocon = """
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0, maximum-frame-size = 32MiB }
        akka.cluster.roles = [tcpstore]
        akka.cluster.distributed-data.role = tcpstore
        akka.loglevel = WARNING
        akka.log-dead-letters = off
        """;

    private IHost _host = null!;

    private ActorRegistry Registry => _host.Services.GetRequiredService<ActorRegistry>();

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Services.AddAkka("tcpstore", akka =>
        {
            akka.AddHocon(ClusterHocon, HoconAddMode.Prepend);
            akka.WithTcpStoreCluster(options =>
            {
                options.Store.Host = "127.0.0.1";
                options.Store.Port = 0;
                options.Role = "tcpstore";
                options.StoreSize = 1; // a one-node cluster
                options.IdentifyInterval = TimeSpan.FromMilliseconds(200);
            });
            // A one-node cluster: the node joins itself once it runs.
            akka.AddStartup((system, _) =>
                global::Akka.Cluster.Cluster.Get(system).Join(global::Akka.Cluster.Cluster.Get(system).SelfAddress));
        });
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    [Fact]
    public async Task The_builder_registers_the_node_gateway_and_serves_clients_through_the_singleton()
    {
        var store = Registry.Get<StoreEndpoint>();
        Assert.Equal("/user/tcpstore/default/store", store.Path.ToStringWithoutAddress());
        var binding = await Registry.Get<TcpStoreGuardian>().Ask<TcpStoreListener.Binding>(
            TcpStoreListener.GetBinding.Instance, TimeSpan.FromSeconds(10));
        var port = Assert.IsType<IPEndPoint>(binding.LocalAddress).Port;

        // The gateway holds requests until the singleton has read the (empty) state back; the client's wait covers it.
        await using var client = await TcpStoreClient.ConnectAsync(new TcpStoreClientOptions
        {
            Host = "127.0.0.1", Port = port, Timeout = TimeSpan.FromSeconds(60),
        });
        Assert.Equal(5, await client.AddAsync("hosted/counter", 5));
        await client.SetAsync("hosted/key", "value");
        Assert.Equal("value", await client.GetStringAsync("hosted/key"));

        var stats = await store.Ask<StoreStats>(GetStats.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal(2, stats.Keys);
    }

    [Fact]
    public async Task Every_store_message_is_bound_to_the_store_serializer_once_the_cluster_extensions_run()
    {
        // DistributedData and the singleton inject their own configuration after start; the binding must survive it.
        var system = _host.Services.GetRequiredService<ActorSystem>();
        await Registry.Get<StoreEndpoint>().Ask<StoreStats>(GetStats.Instance, TimeSpan.FromSeconds(60));

        object[] messages =
        [
            new Execute(ActorRefs.Nobody, [new Query.Ping(1)]), new Executed([Reply.WaitPending.Instance]),
            WaitCompleted.Instance, new ConnectionClosed(ActorRefs.Nobody), GetStats.Instance,
            new StoreStats(0, 0, 0, 0, 0, 0), new GetWaiters(), new Waiters(0, []), new ListEntries(0, 1),
            new Entries(0, 0, []), new ListQueues(), new QueueList(0, []), new GetBarriers(), new Barriers(0, []),
            StoreEpoch.None, StoreJournal.Empty, new JournalDelta(JournalContent.Empty), StoreBucket.Empty, new BucketDelta(BucketContent.Empty),
            new NodeRequests([]), new NodeReplies([]),
            new FindStore("s.0", 1), new DropStore("s.0"), new StoreDropped("s.0"),
            new StoreCatalog.Prepare("s", "0", ""), new StoreCatalog.Prepared("s", "0", "n", null), new StoreCatalog.Commit("s", "0"),
            new StoreCatalog.Abort("s", "0"), new StoreCatalog.Withdraw("s", "0"), new StoreCatalog.Withdrawn("s", "0"),
        ];
        Assert.Equal(StoreMessageSerializer.MessageTypes.OrderBy(t => t.Name), messages.Select(m => m.GetType()).OrderBy(t => t.Name));
        foreach (var message in messages)
        {
            var serializer = system.Serialization.FindSerializerFor(message);
            Assert.True(serializer is StoreMessageSerializer, $"{message.GetType().Name} is bound to {serializer.GetType().Name}");
            Assert.Equal(StoreMessageSerializer.SerializerId, serializer.Identifier);
        }
    }

    [Fact]
    public async Task A_store_added_with_WithTcpStore_in_a_cluster_configured_node_refuses_to_start()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [] });
        builder.Services.AddAkka("misconfigured", akka =>
        {
            akka.AddHocon("tcpstore.cluster.enabled = on\n" + ClusterHocon, HoconAddMode.Prepend);
            akka.WithTcpStore("127.0.0.1", 0);
        });
        using var host = builder.Build();
        var error = await Record.ExceptionAsync(() => host.StartAsync());
        await host.StopAsync();
        var refused = Assert.IsType<TcpStoreStartException>(error);
        Assert.Contains("WithTcpStoreCluster", refused.Reason);
    }
}
