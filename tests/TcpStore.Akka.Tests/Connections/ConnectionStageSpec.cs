using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Akka.TestKit;
using TcpStore.Akka.Connections;
using TcpStore.Akka.Store;
using TcpStore.Protocol;
using Xunit.Abstractions;
using static TcpStore.TestSupport.Wire;

namespace TcpStore.Akka.Tests.Connections;

/// <summary>
/// <see cref="ConnectionStage"/> between probes: a <c>TestSource</c> of decoded batches, a <c>TestSink</c> of reply
/// bytes, and <see cref="TestProbe"/>s as the store and the listener.
/// </summary>
/// <remarks>
/// The stage is materialized, as the listener does it, with an <see cref="AcceptedSocket"/> attribute; it reads only
/// the peer from it, so the socket is one that is never connected. The materializer's input buffer is one element,
/// so the only batch that can wait between the source probe and the stage is the one the stage has not pulled.
/// </remarks>
public sealed class ConnectionStageSpec : global::Akka.TestKit.Xunit2.TestKit
{
    /// <summary>How long a probe must stay silent when nothing may happen; the stage reacts within microseconds.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(200);

    private static readonly EndPoint Peer = new IPEndPoint(IPAddress.Loopback, 40001);

    private readonly IMaterializer _materializer;
    private readonly TestProbe _store;
    private readonly TestProbe _listener;
    private readonly Socket _unconnected = new(SocketType.Stream, ProtocolType.Tcp);

    public ConnectionStageSpec(ITestOutputHelper output) : base("akka.loglevel = WARNING", output: output)
    {
        _materializer = Sys.Materializer(ActorMaterializerSettings.Create(Sys).WithInputBuffer(1, 1));
        _store = CreateTestProbe("store");
        _listener = CreateTestProbe("listener");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _unconnected.Dispose();
        base.Dispose(disposing);
    }

    private sealed record Connection(
        TestPublisher.Probe<IReadOnlyList<Query>> Batches,
        TestSubscriber.Probe<ByteString> Bytes,
        IActorRef Self);

    /// <summary>Materializes a connection and returns its probes and the ref it announced to the listener.</summary>
    private async Task<Connection> OpenAsync(int maxBufferedBytes = 1 << 20)
    {
        var graph = this.SourceProbe<IReadOnlyList<Query>>()
            .Via(new ConnectionStage(_store.Ref, _listener.Ref, Sys.Log, maxBufferedBytes))
            .ToMaterialized(this.SinkProbe<ByteString>(), Keep.Both);
        var (batches, bytes) = _materializer.Materialize(graph, new Attributes(new AcceptedSocket(_unconnected, Peer)));
        await bytes.EnsureSubscriptionAsync();
        var opened = await _listener.ExpectMsgAsync<TcpStoreListener.ConnectionOpened>();
        Assert.Equal(Peer, opened.Peer);
        return new Connection(batches, bytes, opened.Connection);
    }

    /// <summary>Sends <paramref name="batch"/> and returns the <see cref="StoreProtocol.Execute"/> the store got for it.</summary>
    private async Task<StoreProtocol.Execute> ExecuteAsync(Connection connection, params Query[] batch)
    {
        await connection.Batches.SendNextAsync(batch);
        var execute = await _store.ExpectMsgAsync<StoreProtocol.Execute>();
        Assert.Same(batch, execute.Queries);
        return execute;
    }

    private void Answer(Connection connection, params Reply[] replies) =>
        connection.Self.Tell(new StoreProtocol.Executed(replies), _store.Ref);

    private static async Task ExpectBytesAsync(Connection connection, params byte[][] expected) =>
        Assert.Equal(Cat(expected), (await connection.Bytes.ExpectNextAsync()).ToArray());

    /// <summary>However the connection ended: the store drops its waiters and the listener counts it closed.</summary>
    private async Task ExpectEndedAsync(Connection connection)
    {
        var closed = await _store.ExpectMsgAsync<StoreProtocol.ConnectionClosed>();
        Assert.Equal(connection.Self, closed.Connection);
        var ended = await _listener.ExpectMsgAsync<TcpStoreListener.ConnectionEnded>();
        Assert.Equal(connection.Self, ended.Connection);
    }

    [Fact]
    public async Task Announces_itself_to_the_listener_and_tells_the_store_each_batch_as_the_connection()
    {
        var connection = await OpenAsync();

        var execute = await ExecuteAsync(connection, new Query.Ping(1));

        Assert.Equal(connection.Self, execute.Connection);
        Assert.Equal(connection.Self, _store.LastSender);
    }

    [Fact]
    public async Task Pulls_the_next_batch_only_when_the_replies_of_the_last_arrived()
    {
        var connection = await OpenAsync();
        await ExecuteAsync(connection, new Query.Ping(1));

        Query[] second = [new Query.Ping(2)];
        await connection.Batches.SendNextAsync(second);
        await _store.ExpectNoMsgAsync(Quiet); // one batch in flight: the second waits, unpulled

        Answer(connection, new Reply.Pong(1));
        Assert.Same(second, (await _store.ExpectMsgAsync<StoreProtocol.Execute>()).Queries);
    }

    [Fact]
    public async Task Encodes_the_replies_of_a_batch_in_order_into_one_chunk()
    {
        var connection = await OpenAsync();
        await connection.Bytes.RequestAsync(1);
        await ExecuteAsync(connection, new Query.Ping(7), new Query.Get(B("/k")), new Query.Add(B("/n"), 42),
            new Query.Check([B("/k")]), new Query.CancelWait());

        Answer(connection, new Reply.Pong(7), new Reply.Bytes(B("v")), new Reply.Integer(42), Reply.CheckResult.ReadyReply,
            Reply.WaitCanceled.Instance);

        await ExpectBytesAsync(connection, U32(7), Str("v"), I64(42), [0], [1]);
    }

    [Fact]
    public async Task A_large_value_is_a_chunk_of_its_own_that_wraps_the_stores_array()
    {
        var connection = await OpenAsync();
        await connection.Bytes.RequestAsync(3);
        var large = new byte[ReplyChunks.LargeValueBytes];
        new Random(3).NextBytes(large);
        await ExecuteAsync(connection, new Query.Ping(7), new Query.Get(B("/large")), new Query.Ping(8));

        Answer(connection, new Reply.Pong(7), new Reply.Bytes(large), new Reply.Pong(8));

        // The bytes before the value (a PONG and the value's length), the value itself, the bytes after it.
        await ExpectBytesAsync(connection, U32(7), U64((ulong)large.Length));
        var value = await connection.Bytes.ExpectNextAsync();
        Assert.True(value.IsCompact);
        Assert.True(value.ToReadOnlySpan().Overlaps(large), "the chunk copied the value instead of wrapping it");
        await ExpectBytesAsync(connection, U32(8));
    }

    [Fact]
    public async Task A_deferred_wait_writes_nothing_and_its_completion_writes_stop_waiting()
    {
        var connection = await OpenAsync();
        await connection.Bytes.RequestAsync(3);
        await ExecuteAsync(connection, new Query.Wait([B("/later")]));
        Answer(connection, Reply.WaitPending.Instance);
        await ExecuteAsync(connection, new Query.Ping(1));
        Answer(connection, new Reply.Pong(1));

        // Demand was there all along: had WAIT_PENDING written anything, it would come before the PONG.
        await ExpectBytesAsync(connection, U32(1));
        connection.Self.Tell(StoreProtocol.WaitCompleted.Instance, _store.Ref);
        await ExpectBytesAsync(connection, [0]);
    }

    [Fact]
    public async Task Replies_that_arrive_while_downstream_does_not_pull_leave_as_one_chunk()
    {
        var connection = await OpenAsync();
        await ExecuteAsync(connection, new Query.Wait([B("/w")]), new Query.Ping(1));
        Answer(connection, Reply.WaitPending.Instance, new Reply.Pong(1));
        await ExecuteAsync(connection, new Query.Ping(2));
        Answer(connection, new Reply.Pong(2));
        connection.Self.Tell(StoreProtocol.WaitCompleted.Instance, _store.Ref);

        // The stage actor's messages and the demand reach the stage in the order sent from here.
        await connection.Bytes.RequestAsync(2);
        await ExpectBytesAsync(connection, U32(1), U32(2), [0]);

        // The next reply is a chunk of its own: nothing of the three above was left behind.
        await ExecuteAsync(connection, new Query.Ping(3));
        Answer(connection, new Reply.Pong(3));
        await ExpectBytesAsync(connection, U32(3));
    }

    [Fact]
    public async Task Upstream_completion_writes_the_pending_replies_completes_and_tells_store_and_listener()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var connection = await OpenAsync();
            await ExecuteAsync(connection, new Query.Ping(1));
            Answer(connection, new Reply.Pong(1)); // no demand yet: pending
            await ExecuteAsync(connection, new Query.Ping(2)); // proves the PONG above was taken: the stage pulled
            Answer(connection, new Reply.Pong(2));

            await connection.Batches.SendCompleteAsync();
            await connection.Bytes.RequestAsync(1);

            await ExpectBytesAsync(connection, U32(1), U32(2));
            await connection.Bytes.ExpectCompleteAsync();
            await ExpectEndedAsync(connection);
        }, _materializer);
    }

    [Fact]
    public async Task Upstream_failure_fails_the_connection_and_tells_store_and_listener()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var connection = await OpenAsync();
            var failure = new IOException("connection reset by peer");

            await connection.Batches.SendErrorAsync(failure);

            Assert.Same(failure, await connection.Bytes.ExpectErrorAsync());
            await ExpectEndedAsync(connection);
        }, _materializer);
    }

    [Fact]
    public async Task A_protocol_violation_from_the_decoder_closes_the_connection_after_its_pending_replies()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var connection = await OpenAsync();
            await ExecuteAsync(connection, new Query.Ping(1));
            Answer(connection, new Reply.Pong(1));
            await ExecuteAsync(connection, new Query.Ping(2)); // the PONG above is pending
            Answer(connection, new Reply.Pong(2));

            await connection.Batches.SendErrorAsync(
                new TcpStore.Protocol.ProtocolViolationException(ViolationReason.UnknownQueryType, null, "query type 0xee"));
            await connection.Bytes.RequestAsync(1);

            // A client's bad request is not a stream failure: its replies so far go out, then the socket closes.
            await ExpectBytesAsync(connection, U32(1), U32(2));
            await connection.Bytes.ExpectCompleteAsync();
            await ExpectEndedAsync(connection);
        }, _materializer);
    }

    [Fact]
    public async Task Downstream_cancellation_stops_the_connection_and_tells_store_and_listener()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var connection = await OpenAsync();

            await connection.Bytes.CancelAsync();

            await connection.Batches.ExpectCancellationAsync();
            await ExpectEndedAsync(connection);
        }, _materializer);
    }

    [Fact]
    public async Task A_rejection_writes_the_replies_before_it_and_completes_the_connection()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var connection = await OpenAsync();
            await connection.Bytes.RequestAsync(1);
            await ExecuteAsync(connection, new Query.Ping(1), new Query.Add(B("/text"), 1), new Query.Ping(2));

            connection.Self.Tell(new StoreProtocol.Executed([new Reply.Pong(1)],
                new Rejection(QueryType.Add, "add-not-a-number", "the value of /text is not a number")), _store.Ref);

            await ExpectBytesAsync(connection, U32(1));
            await connection.Bytes.ExpectCompleteAsync();
            await connection.Batches.ExpectCancellationAsync();
            await ExpectEndedAsync(connection);
        }, _materializer);
    }

    [Fact]
    public async Task Store_lost_closes_a_connection_with_a_batch_in_flight()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var connection = await OpenAsync();
            await ExecuteAsync(connection, new Query.Get(B("/k")));

            connection.Self.Tell(StoreProtocol.StoreLost.Instance);

            await connection.Bytes.ExpectCompleteAsync();
            await ExpectEndedAsync(connection);
        }, _materializer);
    }

    [Fact]
    public async Task Store_lost_closes_a_connection_with_a_deferred_wait()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var connection = await OpenAsync();
            await ExecuteAsync(connection, new Query.Wait([B("/never")]));
            Answer(connection, Reply.WaitPending.Instance);
            await ExecuteAsync(connection, new Query.Ping(1)); // the WAIT's batch is answered: only the WAIT is owed
            Answer(connection, new Reply.Pong(1));

            connection.Self.Tell(StoreProtocol.StoreLost.Instance);

            await connection.Bytes.RequestAsync(1);
            await ExpectBytesAsync(connection, U32(1)); // what was already answered still goes out
            await connection.Bytes.ExpectCompleteAsync();
            await ExpectEndedAsync(connection);
        }, _materializer);
    }

    [Theory]
    [InlineData("answered")]
    [InlineData("wait-completed")]
    [InlineData("wait-canceled")]
    public async Task Store_lost_is_ignored_by_a_connection_that_is_owed_nothing(string history)
    {
        var connection = await OpenAsync();
        await connection.Bytes.RequestAsync(10);
        switch (history)
        {
            case "answered":
                await ExecuteAsync(connection, new Query.Ping(1));
                Answer(connection, new Reply.Pong(1));
                await ExpectBytesAsync(connection, U32(1));
                break;
            case "wait-completed":
                await ExecuteAsync(connection, new Query.Wait([B("/w")]));
                Answer(connection, Reply.WaitPending.Instance);
                connection.Self.Tell(StoreProtocol.WaitCompleted.Instance, _store.Ref);
                await ExpectBytesAsync(connection, [0]);
                break;
            case "wait-canceled":
                await ExecuteAsync(connection, new Query.Wait([B("/w")]));
                Answer(connection, Reply.WaitPending.Instance);
                await ExecuteAsync(connection, new Query.CancelWait());
                Answer(connection, Reply.WaitCanceled.Instance);
                await ExpectBytesAsync(connection, [1]);
                break;
        }

        connection.Self.Tell(StoreProtocol.StoreLost.Instance);

        // Handled before the next batch (one mailbox, in the order sent): had it closed the connection, no Execute
        // would come and the bytes would complete.
        await ExecuteAsync(connection, new Query.Ping(9));
        Answer(connection, new Reply.Pong(9));
        await ExpectBytesAsync(connection, U32(9));
    }

    [Fact]
    public async Task Replies_piling_up_beyond_the_buffer_limit_fail_the_connection()
    {
        await this.AssertAllStagesStoppedAsync(async () =>
        {
            var connection = await OpenAsync(maxBufferedBytes: 16);
            await ExecuteAsync(connection, new Query.Ping(1));
            Answer(connection, new Reply.Pong(1)); // 4 bytes pending: downstream does not pull
            await ExecuteAsync(connection, new Query.Get(B("/k")));

            Answer(connection, new Reply.Bytes(new byte[10])); // 4 + 8 + 10 > 16

            var failure = Assert.IsType<OutboundBufferOverflowException>(await connection.Bytes.ExpectErrorAsync());
            Assert.Equal(16, failure.Limit);
            await ExpectEndedAsync(connection);
        }, _materializer);
    }

    [Fact]
    public async Task Replies_up_to_the_buffer_limit_wait_for_downstream()
    {
        var connection = await OpenAsync(maxBufferedBytes: 16);
        await ExecuteAsync(connection, new Query.Ping(1));
        Answer(connection, new Reply.Pong(1));
        await ExecuteAsync(connection, new Query.Get(B("/k")));

        Answer(connection, new Reply.Bytes(new byte[4])); // 4 + 8 + 4 = 16: at the limit, not beyond

        await connection.Bytes.RequestAsync(1);
        await ExpectBytesAsync(connection, U32(1), Str(new byte[4]));
    }
}
