using System.Text;
using TcpStore.Protocol;
using static TcpStore.TestSupport.ProtocolTestData;

namespace TcpStore.Protocol.Tests;

/// <summary>
/// Requests at the key-count limit arriving in socket-sized chunks: completed fields must be consumed as they
/// arrive, so the internal buffer never grows beyond one chunk plus one field (which is what keeps parsing linear).
/// </summary>
public class QueryParserLargeRequestTests
{
    private const int ChunkSize = 4096;

    [Fact]
    public void A_multi_set_of_131072_pairs_in_4_KiB_chunks_is_parsed_incrementally()
    {
        const int pairCount = 131072;
        var pairs = new List<KeyValuePair<byte[], byte[]>>(pairCount);
        for (var i = 0; i < pairCount; i++)
            pairs.Add(new(Encoding.ASCII.GetBytes($"/key{i}"), Encoding.ASCII.GetBytes($"value-{i * 7}")));
        var request = new Query.MultiSet(pairs);
        var trailer = new Query.Ping(42);
        var wire = QueryEncoder.Encode([request, trailer], validateFirst: true);

        var parser = new QueryParser(WireLimits.Default);
        var output = new List<Query>();
        var largestField = pairs.Max(p => Math.Max(p.Key.Length, p.Value.Length)) + sizeof(ulong);
        long previousPending = -1;
        for (var offset = 0; offset < wire.Length; offset += ChunkSize)
        {
            parser.Feed(wire.AsSpan(offset, Math.Min(ChunkSize, wire.Length - offset)), output);

            Assert.InRange(parser.BufferedByteCount, 0, largestField);
            if (output.Count == 0 && offset > ChunkSize)
            {
                // The request's completed pairs are accounted for while they wait for the rest.
                Assert.True(parser.PendingRequestBytes > previousPending);
                previousPending = parser.PendingRequestBytes;
            }
        }

        parser.Complete();

        Assert.Equal(2, output.Count);
        var parsed = Assert.IsType<Query.MultiSet>(output[0]);
        Assert.Equal(pairCount, parsed.Pairs.Count);
        for (var i = 0; i < pairCount; i++)
        {
            Assert.True(pairs[i].Key.AsSpan().SequenceEqual(parsed.Pairs[i].Key), $"key {i}");
            Assert.True(pairs[i].Value.AsSpan().SequenceEqual(parsed.Pairs[i].Value), $"value {i}");
        }

        Assert.Equal(42u, Assert.IsType<Query.Ping>(output[1]).Nonce);
    }

    [Fact]
    public void A_multi_get_of_131072_keys_in_4_KiB_chunks_is_parsed_incrementally()
    {
        var keys = Enumerable.Range(0, 131072).Select(i => Encoding.ASCII.GetBytes($"/rank/{i}")).ToList();
        var wire = QueryEncoder.Encode([new Query.MultiGet(keys)], validateFirst: true);
        var parser = new QueryParser(WireLimits.Default);
        var output = new List<Query>();

        for (var offset = 0; offset < wire.Length; offset += ChunkSize)
        {
            parser.Feed(wire.AsSpan(offset, Math.Min(ChunkSize, wire.Length - offset)), output);
            Assert.InRange(parser.BufferedByteCount, 0, 64);
        }

        parser.Complete();
        AssertSameQueries([new Query.MultiGet(keys)], output);
    }

    [Fact]
    public void A_large_value_is_buffered_once_and_the_buffer_is_released_afterwards()
    {
        var value = new byte[3 * 1024 * 1024];
        new Random(3).NextBytes(value);
        var wire = QueryEncoder.Encode([new Query.Set(Ascii("/blob"), value), new Query.Get(Ascii("/blob"))], validateFirst: true);
        var parser = new QueryParser(WireLimits.Default);
        var output = new List<Query>();

        for (var offset = 0; offset < wire.Length; offset += ChunkSize)
            parser.Feed(wire.AsSpan(offset, Math.Min(ChunkSize, wire.Length - offset)), output);

        parser.Complete();
        Assert.Equal(0, parser.BufferedByteCount);
        AssertSameQueries([new Query.Set(Ascii("/blob"), value), new Query.Get(Ascii("/blob"))], output);
    }
}
