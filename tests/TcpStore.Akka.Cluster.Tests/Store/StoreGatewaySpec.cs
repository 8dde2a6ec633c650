using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using TcpStore.Akka.Configuration;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using Xunit.Abstractions;
using static TcpStore.Akka.Store.StoreProtocol;

namespace TcpStore.Akka.Cluster.Tests.Store;

/// <summary>
/// <see cref="StoreGateway"/> with <see cref="TestProbe"/>s as the singleton proxy, the singletons and the
/// connections, and the test actor as its parent (the guardian, which would tell the listener of a lost store).
/// </summary>
public sealed class StoreGatewaySpec : TestKit
{
    private static readonly TimeSpan IdentifyInterval = TimeSpan.FromMilliseconds(100);

    private static readonly StoreStats NoStats = new(0, 0, 0, 0, 0, 0);

    private readonly TestProbe _proxy;
    private readonly IActorRef _gateway;

    public StoreGatewaySpec(ITestOutputHelper output) : base("akka.loglevel = WARNING", output: output)
    {
        _proxy = CreateTestProbe("proxy");
        var settings = ClusterStoreSettings.Create(ConfigurationFactory.ParseString(
                $"identify-interval = {(int)IdentifyInterval.TotalMilliseconds}ms")
            .WithFallback(TcpStoreSettings.DefaultConfig().GetConfig(ClusterStoreSettings.ConfigPath)));
        _gateway = ChildActorOf(StoreGateway.Props(_proxy.Ref, settings), "store");
    }

    private static Execute Batch(IActorRef connection, uint nonce) => new(connection, [new Query.Ping(nonce)]);

    /// <summary>
    /// Plays the proxy delivering the gateway's next GetStats to <paramref name="singleton"/>, which answers the
    /// gateway: the answer's sender names the singleton.
    /// </summary>
    private async Task AnswerNextProbeAsync(TestProbe singleton)
    {
        await _proxy.ExpectMsgAsync<GetStats>();
        Assert.Equal(_gateway, _proxy.LastSender);
        singleton.Send(_gateway, NoStats);
    }

    private static async Task ExpectFromAsync<T>(TestProbe singleton, T message, TestProbe sender)
    {
        Assert.Equal(message, await singleton.ExpectMsgAsync<T>());
        Assert.Equal(sender.Ref, singleton.LastSender);
    }

    [Fact]
    public async Task Asks_the_proxy_for_stats_at_once_and_then_every_interval_while_no_singleton_is_known()
    {
        // The first at start, the next ones from the timer: three in a little over two intervals.
        await _proxy.ExpectMsgAsync<GetStats>();
        await _proxy.ExpectMsgAsync<GetStats>();
        await _proxy.ExpectMsgAsync<GetStats>();
    }

    [Fact]
    public async Task Holds_messages_until_a_stats_answer_names_the_singleton_then_delivers_them_in_order_with_their_senders()
    {
        var (a, b, singleton) = (CreateTestProbe("a"), CreateTestProbe("b"), CreateTestProbe("singleton"));
        var first = Batch(a.Ref, 1);
        var second = Batch(b.Ref, 2);
        var closed = new ConnectionClosed(a.Ref);
        _gateway.Tell(first, a.Ref);
        _gateway.Tell(second, b.Ref);
        _gateway.Tell(closed, a.Ref);

        await AnswerNextProbeAsync(singleton);

        await ExpectFromAsync(singleton, first, a);
        await ExpectFromAsync(singleton, second, b);
        await ExpectFromAsync(singleton, closed, a);
    }

    [Fact]
    public async Task Once_found_forwards_with_the_sender_kept_and_stops_asking_the_proxy()
    {
        var (a, singleton) = (CreateTestProbe("a"), CreateTestProbe("singleton"));
        await AnswerNextProbeAsync(singleton);

        var batch = Batch(a.Ref, 1);
        _gateway.Tell(batch, a.Ref);
        await ExpectFromAsync(singleton, batch, a);
        _gateway.Tell(GetStats.Instance, a.Ref);
        await ExpectFromAsync(singleton, GetStats.Instance, a);

        // The timer was cancelled when the answer arrived (before the batch above was forwarded); what it sent
        // before is already in the proxy's mailbox. Nothing may follow: a few intervals of silence show it.
        while (_proxy.HasMessages) await _proxy.ExpectMsgAsync<GetStats>();
        await _proxy.ExpectNoMsgAsync(IdentifyInterval * 3);
    }

    [Fact]
    public async Task A_stopped_singleton_is_reported_to_the_parent_and_the_next_one_gets_what_was_held_meanwhile()
    {
        var (a, b) = (CreateTestProbe("a"), CreateTestProbe("b"));
        var (lost, next) = (CreateTestProbe("lost-singleton"), CreateTestProbe("next-singleton"));
        await AnswerNextProbeAsync(lost);
        var before = Batch(a.Ref, 0);
        _gateway.Tell(before, a.Ref);
        await ExpectFromAsync(lost, before, a);
        while (_proxy.HasMessages) await _proxy.ExpectMsgAsync<GetStats>(); // sent before it was found

        Sys.Stop(lost.Ref);

        await ExpectMsgAsync<StoreLost>(); // to the parent (this test actor)
        var held = Batch(a.Ref, 1);
        var alsoHeld = new ConnectionClosed(b.Ref);
        _gateway.Tell(held, a.Ref);
        _gateway.Tell(alsoHeld, b.Ref);
        await _proxy.ExpectMsgAsync<GetStats>(); // searching again

        // A late answer of the stopped singleton (to a probe of before) must not make it the store again: the
        // held messages would go to a dead actor, and the next singleton would not get them.
        _gateway.Tell(NoStats, lost.Ref);
        await AnswerNextProbeAsync(next);

        await ExpectFromAsync(next, held, a);
        await ExpectFromAsync(next, alsoHeld, b);
        var afterwards = Batch(b.Ref, 2);
        _gateway.Tell(afterwards, b.Ref);
        await ExpectFromAsync(next, afterwards, b);
    }
}
