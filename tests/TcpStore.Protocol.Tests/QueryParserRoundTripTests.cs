using TcpStore.Protocol;
using static TcpStore.TestSupport.ProtocolTestData;

namespace TcpStore.Protocol.Tests;

/// <summary>QueryEncoder → QueryParser round trips under every way the bytes can be cut.</summary>
public class QueryParserRoundTripTests
{
    public static TheoryData<int> SampleIndexes()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < OneOfEach().Count; i++)
            data.Add(i);
        return data;
    }

    [Fact]
    public void Samples_cover_every_query_type_but_validate()
    {
        var covered = OneOfEach().Select(q => q.Type).ToHashSet();
        var expected = Enumerable.Range(1, (int)WireFormat.LastQueryType).Select(t => (QueryType)t);
        Assert.Equal(expected.OrderBy(t => t), covered.OrderBy(t => t));
    }

    [Theory]
    [MemberData(nameof(SampleIndexes))]
    public void Query_split_at_every_byte_boundary_decodes_once(int index)
    {
        var query = OneOfEach()[index];
        var wire = QueryEncoder.Encode([query], validateFirst: true);

        for (var split = 0; split <= wire.Length; split++)
        {
            var parser = new QueryParser(WireLimits.Default);
            var output = new List<Query>();
            parser.Feed(wire.AsSpan(0, split), output);
            if (split < wire.Length)
                Assert.Empty(output);
            parser.Feed(wire.AsSpan(split), output);
            parser.Complete();

            AssertSameQueries([query], output);
            Assert.Equal(0, parser.PendingRequestBytes);
        }
    }

    [Theory]
    [MemberData(nameof(SampleIndexes))]
    public void Query_fed_one_byte_at_a_time_decodes_on_its_last_byte(int index)
    {
        var query = OneOfEach()[index];
        var wire = QueryEncoder.Encode([query], validateFirst: true);
        var parser = new QueryParser(WireLimits.Default);
        var output = new List<Query>();

        for (var i = 0; i < wire.Length; i++)
        {
            parser.Feed(wire.AsSpan(i, 1), output);
            Assert.Equal(i == wire.Length - 1 ? 1 : 0, output.Count);
        }

        parser.Complete();
        AssertSameQueries([query], output);
    }

    [Fact]
    public void Argument_less_queries_decode_to_their_singletons()
    {
        var wire = QueryEncoder.Encode([Query.GetNumKeys.Instance, Query.CancelWait.Instance, Query.ListKeys.Instance], true);
        var output = ParseChunks([wire]);
        Assert.Same(Query.GetNumKeys.Instance, output[0]);
        Assert.Same(Query.CancelWait.Instance, output[1]);
        Assert.Same(Query.ListKeys.Instance, output[2]);
    }

    [Fact]
    public void All_samples_pipelined_in_one_chunk_decode_in_order()
    {
        var queries = OneOfEach();
        AssertSameQueries(queries, ParseChunks([QueryEncoder.Encode(queries, validateFirst: true)]));
    }

    [Fact]
    public void Random_pipelined_batches_survive_random_rechunking()
    {
        var random = new Random(20261127);
        for (var iteration = 0; iteration < 300; iteration++)
        {
            var queries = Enumerable.Range(0, random.Next(1, 40)).Select(_ => RandomQuery(random)).ToList();
            var wire = QueryEncoder.Encode(queries, validateFirst: true);
            // Alternate tiny chunks (every field straddles chunks) with socket-sized ones (fast path, many per chunk).
            var maxChunk = iteration % 3 switch { 0 => 7, 1 => 300, _ => 8192 };
            var chunks = RandomChunks(wire, random, maxChunk);

            var parsed = ParseChunks(chunks);

            AssertSameQueries(queries, parsed);
        }
    }

    [Fact]
    public void Queries_are_emitted_by_the_chunk_that_completes_them()
    {
        var first = new Query.Set(Ascii("/a"), Ascii("1"));
        var second = new Query.Get(Ascii("/a"));
        var firstWire = QueryEncoder.Encode(first);
        var secondWire = QueryEncoder.Encode(second);
        var parser = ValidatedParser();
        var output = new List<Query>();

        // The first chunk ends three bytes into the second query: only the first is emitted.
        parser.Feed(Concat(firstWire, secondWire[..3]), output);
        AssertSameQueries([first], output);
        // The type byte is consumed at once; the two bytes of the key's length prefix wait for the rest.
        Assert.Equal(2, parser.BufferedByteCount);

        parser.Feed(secondWire[3..], output);
        AssertSameQueries([first, second], output);
        Assert.Equal(0, parser.BufferedByteCount);
        parser.Complete();
    }

    [Fact]
    public void Empty_chunks_are_harmless()
    {
        var parser = new QueryParser(WireLimits.Default);
        var output = new List<Query>();
        parser.Feed([], output);
        parser.Complete();
        Assert.Empty(output);

        var wire = QueryEncoder.Encode([new Query.Ping(7)], validateFirst: true);
        parser = new QueryParser(WireLimits.Default);
        parser.Feed(wire.AsSpan(0, 6), output);
        parser.Feed([], output);
        parser.Feed(wire.AsSpan(6), output);
        parser.Complete();
        AssertSameQueries([new Query.Ping(7)], output);
    }
}
