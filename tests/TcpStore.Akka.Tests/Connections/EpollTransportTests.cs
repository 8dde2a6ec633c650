using Akka.Actor;
using TcpStore.Akka.EventLoops;
using TcpStore.TestSupport;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>
/// What only the epoll transport does: the listener, the standalone store and one connection host per loop run on
/// the event loops' dispatchers, and a reply larger than the kernel takes at once is finished from the loop's write
/// readiness without holding up the other connections of that loop.
/// </summary>
public sealed class EpollTransportTests
{
    private static string DispatcherOf(IActorRef actor) => ((ActorRefWithCell)actor).Underlying.Props.Dispatcher;

    [Fact]
    public async Task The_listener_the_store_and_one_host_per_loop_run_on_the_event_loops()
    {
        await using var server = await TestStoreServer.StartAsync("tcpstore.tcp.event-loops.count = 2", "epoll");
        Assert.Equal(EventLoopGroup.DispatcherId(0), DispatcherOf(server.Listener));
        Assert.Equal(EventLoopGroup.DispatcherId(0), DispatcherOf(server.Store));

        // The listener's streams: a host on each loop, and the acceptor, whose thread blocks in accept, off them.
        var inbox = Inbox.Create(server.System);
        server.System.ActorSelection(server.Listener.Path / "StreamSupervisor-*" / "*").Tell(new Identify(null), inbox.Receiver);
        var streams = new List<string>();
        for (var i = 0; i < 3; i++)
            streams.Add(DispatcherOf(((ActorIdentity)await inbox.ReceiveAsync(TimeSpan.FromSeconds(5))).Subject!));
        Assert.Equal([EventLoopGroup.DispatcherId(0), EventLoopGroup.DispatcherId(1)],
            streams.Where(d => d.StartsWith(EventLoopGroup.DispatcherId(0)[..^1], StringComparison.Ordinal)).Order());
        Assert.Single(streams, d => !d.StartsWith(EventLoopGroup.DispatcherId(0)[..^1], StringComparison.Ordinal));

        // Connections are dealt to both loops and served by each.
        var clients = new List<RawClient>();
        try
        {
            for (uint n = 0; n < 4; n++)
            {
                var client = await RawClient.ConnectAsync(server.Port);
                clients.Add(client);
                await client.SendAsync(Ping(n));
                Assert.Equal(n, await client.ReadUInt32Async());
            }
        }
        finally
        {
            foreach (var client in clients) await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_store_leaves_the_loop_when_told_to()
    {
        await using var server = await TestStoreServer.StartAsync("tcpstore.tcp.event-loops.store-on-loop = off", "epoll");
        Assert.Equal("akka.actor.default-dispatcher", DispatcherOf(server.Store));
        await using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync(Ping(5));
        Assert.Equal(5u, await client.ReadUInt32Async());
    }

    [Fact]
    public async Task A_reply_the_kernel_takes_in_parts_arrives_whole_and_the_loops_other_connections_are_served_meanwhile()
    {
        await using var server = await TestStoreServer.StartAsync("tcpstore.tcp.event-loops.count = 1", "epoll");
        var value = new byte[4 << 20];
        new Random(7).NextBytes(value);
        await using var slow = await RawClient.ConnectAsync(server.Port);
        slow.Socket.ReceiveBufferSize = 32 * 1024;
        await slow.SendAsync(Set("/large", value), Get("/large"));

        // The slow reader has not read a byte: its reply is stuck in the kernel's buffers, waiting for EPOLLOUT.
        // The one loop must still serve another connection.
        await using var other = await RawClient.ConnectAsync(server.Port);
        for (uint n = 1; n <= 20; n++)
        {
            await other.SendAsync(Ping(n));
            Assert.Equal(n, await other.ReadUInt32Async());
        }

        Assert.Equal(value, await slow.ReadVectorAsync());
        await slow.SendAsync(Ping(99));
        Assert.Equal(99u, await slow.ReadUInt32Async());
    }
}
