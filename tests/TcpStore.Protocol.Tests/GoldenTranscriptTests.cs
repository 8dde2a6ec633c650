using TcpStore.Protocol;
using static TcpStore.TestSupport.ProtocolTestData;

namespace TcpStore.Protocol.Tests;

/// <summary>
/// The golden transcript recorded between a PyTorch 2.10 client and its libuv server (docs/PROTOCOL.md Appendix A),
/// transcribed here byte for byte: what the client sent must decode to these queries, and the server's replies
/// must encode to exactly these bytes.
/// </summary>
public class GoldenTranscriptTests
{
    /// <summary>Each client segment of the transcript with the queries it carries (VALIDATE yields none).</summary>
    private static readonly (byte[] Wire, Query[] Queries)[] ClientSegments =
    [
        (Hex("00cef7853c0dd66f0000"), [new Query.Ping(0x6fd6)]),
        (Hex("040500000000000000696e69742f0100000000000000"), [new Query.Add(Ascii("init/"), 1)]),
        (Concat([0x01], Vec("/k"), Vec("v")), [new Query.Set(Ascii("/k"), Ascii("v"))]),
        (Concat([0x06], U64(1), Vec("/k")), [new Query.Wait([Ascii("/k")])]),
        (Concat([0x03], Vec("/k")), [new Query.Get(Ascii("/k"))]),
        (Concat([0x04], Vec("/c"), I64(7)), [new Query.Add(Ascii("/c"), 7)]),
        (Concat([0x02], Vec("/k"), Vec("v"), Vec("w")), [new Query.CompareSet(Ascii("/k"), Ascii("v"), Ascii("w"))]),
        (Concat([0x05], U64(2), Vec("/k"), Vec("/zz")), [new Query.Check([Ascii("/k"), Ascii("/zz")])]),
        (Concat([0x06], U64(1), Vec("/missing")), [new Query.Wait([Ascii("/missing")])]),
        ([0x0c], [Query.CancelWait.Instance]),
        (Concat([0x08], Vec("/c")), [new Query.DeleteKey(Ascii("/c"))]),
        ([0x07], [Query.GetNumKeys.Instance]),
        (Concat([0x09], Vec("/k"), Vec("xx")), [new Query.Append(Ascii("/k"), Ascii("xx"))]),
        (Concat([0x0b], U64(2), Vec("/a"), Vec("1"), Vec("/b"), Vec("2")),
            [new Query.MultiSet([Pair("/a", "1"), Pair("/b", "2")])]),
        (Concat([0x06], U64(2), Vec("/a"), Vec("/b")), [new Query.Wait([Ascii("/a"), Ascii("/b")])]),
        (Concat([0x0a], U64(2), Vec("/a"), Vec("/b")), [new Query.MultiGet([Ascii("/a"), Ascii("/b")])]),
        (Concat([0x0e], Vec("/q"), Vec("qq")), [new Query.QueuePush(Ascii("/q"), Ascii("qq"))]),
        (Concat([0x10], Vec("/q")), [new Query.QueueLen(Ascii("/q"))]),
        (Concat([0x06], U64(1), Vec("/q")), [new Query.Wait([Ascii("/q")])]),
        (Concat([0x0f], Vec("/q")), [new Query.QueuePop(Ascii("/q"))]),
        (Concat([0x0f], Vec("/q")), [new Query.QueuePop(Ascii("/q"))]),
        ([0x11], [Query.ListKeys.Instance]),
    ];

    [Fact]
    public void Client_segments_decode_segment_by_segment()
    {
        var parser = new QueryParser(WireLimits.Default);
        foreach (var (wire, queries) in ClientSegments)
        {
            var output = new List<Query>();
            parser.Feed(wire, output);
            AssertSameQueries(queries, output);
        }

        parser.Complete();
    }

    [Fact]
    public void Client_transcript_decodes_as_one_pipelined_stream()
    {
        var wire = Concat(ClientSegments.Select(s => s.Wire).ToArray());
        AssertSameQueries(ClientSegments.SelectMany(s => s.Queries), ParseChunks([wire]));
    }

    [Fact]
    public void QueryEncoder_reproduces_the_client_bytes()
    {
        var validateAndPing = QueryEncoder.Encode([new Query.Ping(0x6fd6)], validateFirst: true);
        Assert.Equal(Hex("00cef7853c0dd66f0000"), validateAndPing);

        foreach (var (wire, queries) in ClientSegments.Skip(1))
            Assert.Equal(wire, QueryEncoder.Encode(queries, validateFirst: false));
    }

    public static TheoryData<string, Reply, byte[]> ServerReplies() => new()
    {
        { "PING echo", new Reply.Pong(0x6fd6), Hex("d66f0000") },
        { "ADD init/ -> 2", new Reply.Integer(2), Hex("0200000000000000") },
        { "WAIT", Reply.StopWaiting.Instance, [0x00] },
        { "GET", new Reply.Bytes(Ascii("v")), Vec("v") },
        { "ADD c 7", new Reply.Integer(7), I64(7) },
        { "COMPARE_SET", new Reply.Bytes(Ascii("w")), Vec("w") },
        { "CHECK not ready", Reply.CheckResult.NotReadyReply, [0x01] },
        { "CANCEL_WAIT", Reply.WaitCanceled.Instance, [0x01] },
        { "DELETE_KEY", new Reply.Integer(1), I64(1) },
        { "GETNUMKEYS", new Reply.Integer(2), I64(2) },
        { "MULTI_GET", new Reply.MultiBytes([Ascii("1"), Ascii("2")]), Concat(Vec("1"), Vec("2")) },
        { "QUEUE_LEN", new Reply.Integer(1), I64(1) },
        { "QUEUE_POP item", new Reply.QueueItem(1, Ascii("qq")), Concat(I64(1), Vec("qq")) },
        { "QUEUE_POP empty", new Reply.QueueItem(0, null), I64(0) },
        {
            "LIST_KEYS", new Reply.KeyList([Ascii("/b"), Ascii("/a"), Ascii("/k"), Ascii("init/")]),
            Concat(I64(4), Vec("/b"), Vec("/a"), Vec("/k"), Vec("init/"))
        },
    };

    [Theory]
    [MemberData(nameof(ServerReplies))]
    public void ReplyEncoder_reproduces_the_server_bytes(string step, Reply reply, byte[] expected)
    {
        Assert.False(string.IsNullOrEmpty(step));
        Assert.Equal(expected, ReplyEncoder.Encode(reply));
        Assert.Equal(expected.Length, ReplyEncoder.GetEncodedLength(reply));
    }
}
