using TcpStore.Protocol;
using static TcpStore.TestSupport.ProtocolTestData;

namespace TcpStore.Protocol.Tests;

/// <summary>
/// BARRIER's bytes (query 18, PyTorch 2.12; docs/PROTOCOL.md §2.20), written out from PyTorch's client
/// (<c>TCPStore::barrier</c>: type byte, the "/"-prefixed key as u64 length + bytes, world_size as i64) and its
/// servers (one reply byte, 00).
/// </summary>
public sealed class BarrierWireTests
{
    /// <summary>store.barrier("bar", 1) as PyTorch 2.12's client sends it.</summary>
    private static readonly byte[] BarrierOfOne = Hex("12 0400000000000000 2f626172 0100000000000000");

    [Fact]
    public void The_request_is_the_type_byte_the_key_and_the_world_size_as_i64()
    {
        Assert.Equal(BarrierOfOne, QueryEncoder.Encode(new Query.Barrier(Ascii("/bar"), 1)));
        Assert.Equal(
            Concat([0x12], U64(3), Ascii("/b3"), I64(-2)),
            QueryEncoder.Encode(new Query.Barrier(Ascii("/b3"), -2)));
    }

    [Fact]
    public void The_parser_reads_it_back_after_validate_in_any_chunking()
    {
        var wire = Concat(Validate, BarrierOfOne, BarrierOfOne);
        for (var split = 1; split < wire.Length; split++)
        {
            var parser = new QueryParser(WireLimits.Default);
            var output = new List<Query>();
            parser.Feed(wire.AsSpan(0, split), output);
            parser.Feed(wire.AsSpan(split), output);
            AssertSameQueries([new Query.Barrier(Ascii("/bar"), 1), new Query.Barrier(Ascii("/bar"), 1)], output);
        }
    }

    [Fact]
    public void Its_key_is_held_to_the_key_limit()
    {
        var parser = new QueryParser(new WireLimits(MaxKeyBytes: 3, MaxValueBytes: 10, MaxKeysPerRequest: 10));
        var violation = Assert.Throws<ProtocolViolationException>(() => parser.Feed(Concat(Validate, BarrierOfOne), new List<Query>()));
        Assert.Equal((ViolationReason.KeyTooLong, (QueryType?)QueryType.Barrier), (violation.Reason, violation.Query));
    }

    [Fact]
    public void The_reply_is_stop_waiting_and_a_raced_cancel_reads_as_for_wait()
    {
        Assert.True(ReplyReader.TryRead(QueryType.Barrier, 0, [0x00], out var reply, out var consumed));
        Assert.Same(Reply.StopWaiting.Instance, reply);
        Assert.Equal(1, consumed);
        Assert.False(ReplyReader.TryRead(QueryType.Barrier, 0, [], out _, out _));
        Assert.Throws<InvalidDataException>(() => ReplyReader.TryRead(QueryType.Barrier, 0, [0x01], out _, out _));
        Assert.True(ReplyReader.HasReply(QueryType.Barrier));
        Assert.Equal([0x00], ReplyEncoder.Encode(Reply.StopWaiting.Instance));
    }
}
