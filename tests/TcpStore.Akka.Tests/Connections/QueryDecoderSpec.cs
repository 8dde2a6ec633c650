using System.Collections.Immutable;
using Akka.IO;
using Akka.Streams;
using Akka.Streams.Dsl;
using TcpStore.Akka.Connections;
using TcpStore.Protocol;
using static TcpStore.TestSupport.ProtocolTestData;

namespace TcpStore.Akka.Tests.Connections;

public class QueryDecoderSpec : global::Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly IMaterializer _materializer;

    public QueryDecoderSpec() => _materializer = Sys.Materializer();

    /// <summary>Runs the chunks through a fresh decoder and collects the batches it emits.</summary>
    private Task<IImmutableList<IReadOnlyList<Query>>> Run(IEnumerable<byte[]> chunks) =>
        Source.From(chunks.Select(ByteString.FromBytes).ToList())
            .Via(QueryDecoder.Create(WireLimits.Default))
            .RunWith(Sink.Seq<IReadOnlyList<Query>>(), _materializer);

    [Fact]
    public async Task Each_chunk_yields_one_batch_of_the_queries_it_completes()
    {
        var set = new Query.Set(Ascii("/k"), Ascii("v"));
        var get = new Query.Get(Ascii("/k"));
        var setWire = QueryEncoder.Encode(set);
        byte[][] chunks =
        [
            Concat(Validate, QueryEncoder.Encode(new Query.Ping(0x6fd6))),
            setWire[..4], // completes nothing: no batch
            Concat(setWire[4..], QueryEncoder.Encode(get), [(byte)QueryType.GetNumKeys]),
            [],
            [(byte)QueryType.ListKeys],
        ];

        var batches = await Run(chunks).WaitAsync(Timeout);

        Assert.Equal(3, batches.Count);
        AssertSameQueries([new Query.Ping(0x6fd6)], batches[0]);
        AssertSameQueries([set, get, Query.GetNumKeys.Instance], batches[1]);
        AssertSameQueries([Query.ListKeys.Instance], batches[2]);
    }

    [Fact]
    public async Task Randomly_rechunked_traffic_decodes_to_the_same_queries()
    {
        var random = new Random(1127);
        var queries = Enumerable.Range(0, 200).Select(_ => RandomQuery(random)).ToList();
        var wire = QueryEncoder.Encode(queries, validateFirst: true);

        var batches = await Run(RandomChunks(wire, random, 1500)).WaitAsync(Timeout);

        Assert.All(batches, batch => Assert.NotEmpty(batch));
        AssertSameQueries(queries, batches.SelectMany(b => b));
    }

    [Fact]
    public async Task An_empty_connection_completes_with_no_batches()
    {
        var batches = await Run([]).WaitAsync(Timeout);
        Assert.Empty(batches);
    }

    [Fact]
    public async Task A_bad_validate_fails_the_stream_with_the_violation()
    {
        var violation = await Assert.ThrowsAsync<ProtocolViolationException>(
            () => Run([[0x00, 0xce], [0xf7, 0x85, 0x3d]]).WaitAsync(Timeout));
        Assert.Equal(ViolationReason.InvalidValidate, violation.Reason);
    }

    [Fact]
    public async Task An_oversized_key_fails_the_stream_as_soon_as_its_length_arrives()
    {
        // No body follows and upstream never completes: the failure must come from the prefix alone.
        var violation = await Assert.ThrowsAsync<ProtocolViolationException>(() =>
            Source.Single(ByteString.FromBytes(Concat(Validate, [(byte)QueryType.Get], U64(1UL << 63))))
                .Concat(Source.Never<ByteString>())
                .Via(QueryDecoder.Create(WireLimits.Default))
                .RunWith(Sink.Ignore<IReadOnlyList<Query>>(), _materializer)
                .WaitAsync(Timeout));
        Assert.Equal(ViolationReason.KeyTooLong, violation.Reason);
        Assert.Equal(QueryType.Get, violation.Query);
    }

    [Fact]
    public async Task A_truncated_request_at_upstream_completion_fails_the_stream()
    {
        var wire = QueryEncoder.Encode([new Query.Set(Ascii("/k"), Ascii("value"))], validateFirst: true);
        var violation = await Assert.ThrowsAsync<ProtocolViolationException>(() => Run([wire[..^1]]).WaitAsync(Timeout));
        Assert.Equal(ViolationReason.TruncatedRequest, violation.Reason);
        Assert.Equal(QueryType.Set, violation.Query);
    }

    [Fact]
    public async Task Queries_preceding_a_violation_in_its_chunk_are_emitted_before_the_failure()
    {
        var received = new List<Query>();
        var good = new Query.Set(Ascii("/a"), Ascii("1"));
        var wire = Concat(Validate, QueryEncoder.Encode(good), Validate);

        var completion = Source.Single(ByteString.FromBytes(wire))
            .Via(QueryDecoder.Create(WireLimits.Default))
            .RunWith(Sink.ForEach<IReadOnlyList<Query>>(batch => received.AddRange(batch)), _materializer);

        var violation = await Assert.ThrowsAsync<ProtocolViolationException>(() => completion.WaitAsync(Timeout));
        Assert.Equal(ViolationReason.RepeatedValidate, violation.Reason);
        AssertSameQueries([good], received);
    }

    [Fact]
    public async Task Each_materialization_has_its_own_parser()
    {
        var flow = QueryDecoder.Create(WireLimits.Default);
        var wire = QueryEncoder.Encode([new Query.Ping(1)], validateFirst: true);

        for (var i = 0; i < 2; i++)
        {
            // A shared parser would see the second VALIDATE as a repeated one.
            var batches = await Source.Single(ByteString.FromBytes(wire)).Via(flow)
                .RunWith(Sink.Seq<IReadOnlyList<Query>>(), _materializer).WaitAsync(Timeout);
            AssertSameQueries([new Query.Ping(1)], batches.SelectMany(b => b));
        }
    }
}
