using System.Buffers.Binary;
using System.Text;
using TcpStore.Protocol;
using Xunit;

namespace TcpStore.TestSupport;

/// <summary>Sample queries, wire builders and comparisons shared by the protocol tests.</summary>
public static class ProtocolTestData
{
    public static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", ""));

    /// <summary>u64 little-endian, as the wire writes lengths and counts.</summary>
    public static byte[] U64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    public static byte[] I64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    /// <summary>A length-prefixed vector: <c>L(n)</c> + bytes.</summary>
    public static byte[] Vec(string text) => Vec(Ascii(text));

    public static byte[] Vec(byte[] bytes) => Concat(U64((ulong)bytes.Length), bytes);

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    public static byte[] Validate => WireFormat.ValidateMessage.ToArray();

    public static byte[] Filled(int length, byte value)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, value);
        return bytes;
    }

    /// <summary>At least one query of every type 1..17, with empty, binary and extreme arguments.</summary>
    public static IReadOnlyList<Query> OneOfEach()
    {
        var binary = new byte[] { 0x00, 0xff, 0x0a, 0x80, 0x7f };
        return
        [
            new Query.Set(Ascii("/k"), Ascii("v")),
            new Query.Set([], []),
            new Query.Set(binary, Filled(3000, 0xab)),
            new Query.CompareSet(Ascii("/k"), Ascii("v"), Ascii("w")),
            new Query.CompareSet(Ascii("/k"), [], binary),
            new Query.Get(Ascii("/k")),
            new Query.Get([]),
            new Query.Add(Ascii("init/"), 1),
            new Query.Add(Ascii("/c"), long.MinValue),
            new Query.Add(Ascii("/c"), long.MaxValue),
            new Query.Check([Ascii("/k"), Ascii("/zz")]),
            new Query.Check([]),
            new Query.Wait([Ascii("/missing")]),
            new Query.Wait([Ascii("/k"), Ascii("/k"), []]),
            Query.GetNumKeys.Instance,
            new Query.DeleteKey(Ascii("/c")),
            new Query.Append(Ascii("/k"), Ascii("xx")),
            new Query.Append(Ascii("/k"), []),
            new Query.MultiGet([Ascii("/a"), Ascii("/b")]),
            new Query.MultiGet([]),
            new Query.MultiSet([Pair("/a", "1"), Pair("/b", "2")]),
            new Query.MultiSet([new KeyValuePair<byte[], byte[]>([], [])]),
            new Query.MultiSet([]),
            Query.CancelWait.Instance,
            new Query.Ping(0x6fd6),
            new Query.Ping(0),
            new Query.Ping(uint.MaxValue),
            new Query.QueuePush(Ascii("/q"), Ascii("qq")),
            new Query.QueuePop(Ascii("/q")),
            new Query.QueueLen(Ascii("/q")),
            Query.ListKeys.Instance,
            new Query.Barrier(Ascii("/bar"), 1),
            new Query.Barrier([], long.MinValue),
            new Query.Barrier(binary, long.MaxValue),
        ];
    }

    public static KeyValuePair<byte[], byte[]> Pair(string key, string value) => new(Ascii(key), Ascii(value));

    /// <summary>A random query of a random type; blob sizes occasionally exceed typical chunk sizes.</summary>
    public static Query RandomQuery(Random random)
    {
        byte[] Blob()
        {
            var length = random.Next(10) switch
            {
                0 => 0,
                1 => random.Next(500, 5000),
                _ => random.Next(1, 40),
            };
            var bytes = new byte[length];
            random.NextBytes(bytes);
            return bytes;
        }

        List<byte[]> Keys() => Enumerable.Range(0, random.Next(6)).Select(_ => Blob()).ToList();

        var type = (QueryType)random.Next(1, (int)WireFormat.LastQueryType + 1);
        return type switch
        {
            QueryType.Set => new Query.Set(Blob(), Blob()),
            QueryType.CompareSet => new Query.CompareSet(Blob(), Blob(), Blob()),
            QueryType.Get => new Query.Get(Blob()),
            QueryType.Add => new Query.Add(Blob(), random.NextInt64(long.MinValue, long.MaxValue)),
            QueryType.Check => new Query.Check(Keys()),
            QueryType.Wait => new Query.Wait(Keys()),
            QueryType.GetNumKeys => Query.GetNumKeys.Instance,
            QueryType.DeleteKey => new Query.DeleteKey(Blob()),
            QueryType.Append => new Query.Append(Blob(), Blob()),
            QueryType.MultiGet => new Query.MultiGet(Keys()),
            QueryType.MultiSet => new Query.MultiSet(
                Enumerable.Range(0, random.Next(5)).Select(_ => new KeyValuePair<byte[], byte[]>(Blob(), Blob())).ToList()),
            QueryType.CancelWait => Query.CancelWait.Instance,
            QueryType.Ping => new Query.Ping((uint)random.NextInt64(0, uint.MaxValue + 1L)),
            QueryType.QueuePush => new Query.QueuePush(Blob(), Blob()),
            QueryType.QueuePop => new Query.QueuePop(Blob()),
            QueryType.QueueLen => new Query.QueueLen(Blob()),
            QueryType.ListKeys => Query.ListKeys.Instance,
            QueryType.Barrier => new Query.Barrier(Blob(), random.NextInt64(long.MinValue, long.MaxValue)),
            _ => throw new InvalidOperationException(type.ToString()),
        };
    }

    /// <summary>
    /// A canonical text of every field of a query, byte arrays as hex: comparing these compares queries field by
    /// field (records compare arrays by reference, which is useless here).
    /// </summary>
    public static string Describe(Query query) => query switch
    {
        Query.Set q => $"SET {H(q.Key)} {H(q.Value)}",
        Query.CompareSet q => $"COMPARE_SET {H(q.Key)} {H(q.Expected)} {H(q.Desired)}",
        Query.Get q => $"GET {H(q.Key)}",
        Query.Add q => $"ADD {H(q.Key)} {q.Delta}",
        Query.Check q => $"CHECK {Hs(q.Keys)}",
        Query.Wait q => $"WAIT {Hs(q.Keys)}",
        Query.GetNumKeys => "GETNUMKEYS",
        Query.DeleteKey q => $"DELETE_KEY {H(q.Key)}",
        Query.Append q => $"APPEND {H(q.Key)} {H(q.Value)}",
        Query.MultiGet q => $"MULTI_GET {Hs(q.Keys)}",
        Query.MultiSet q => $"MULTI_SET {q.Pairs.Count}[{string.Join(",", q.Pairs.Select(p => H(p.Key) + "=" + H(p.Value)))}]",
        Query.CancelWait => "CANCEL_WAIT",
        Query.Ping q => $"PING {q.Nonce}",
        Query.QueuePush q => $"QUEUE_PUSH {H(q.Key)} {H(q.Value)}",
        Query.QueuePop q => $"QUEUE_POP {H(q.Key)}",
        Query.QueueLen q => $"QUEUE_LEN {H(q.Key)}",
        Query.ListKeys => "LIST_KEYS",
        Query.Barrier q => $"BARRIER {H(q.Key)} {q.WorldSize}",
        _ => throw new InvalidOperationException(query.GetType().Name),
    };

    private static string H(byte[] bytes) => "'" + Convert.ToHexString(bytes) + "'";

    private static string Hs(IReadOnlyList<byte[]> keys) => $"{keys.Count}[{string.Join(",", keys.Select(H))}]";

    public static void AssertSameQueries(IEnumerable<Query> expected, IEnumerable<Query> actual) =>
        Assert.Equal(expected.Select(Describe).ToList(), actual.Select(Describe).ToList());

    /// <summary>Cuts <paramref name="bytes"/> into random chunks of 1..<paramref name="maxChunk"/> bytes.</summary>
    public static List<byte[]> RandomChunks(byte[] bytes, Random random, int maxChunk)
    {
        var chunks = new List<byte[]>();
        var position = 0;
        while (position < bytes.Length)
        {
            var size = Math.Min(random.Next(1, maxChunk + 1), bytes.Length - position);
            chunks.Add(bytes[position..(position + size)]);
            position += size;
        }

        return chunks;
    }

    /// <summary>Feeds the chunks one by one, completes the input, and returns everything parsed.</summary>
    public static List<Query> ParseChunks(IEnumerable<byte[]> chunks, WireLimits? limits = null)
    {
        var parser = new QueryParser(limits ?? WireLimits.Default);
        var output = new List<Query>();
        foreach (var chunk in chunks)
            parser.Feed(chunk, output);
        parser.Complete();
        return output;
    }

    /// <summary>A validated parser, ready for a request.</summary>
    public static QueryParser ValidatedParser(WireLimits? limits = null)
    {
        var parser = new QueryParser(limits ?? WireLimits.Default);
        var output = new List<Query>();
        parser.Feed(WireFormat.ValidateMessage, output);
        Assert.Empty(output);
        Assert.True(parser.IsValidated);
        return parser;
    }

    public static ProtocolViolationException FeedExpectingViolation(QueryParser parser, byte[] chunk)
    {
        var output = new List<Query>();
        return Assert.Throws<ProtocolViolationException>(() => parser.Feed(chunk, output));
    }
}
