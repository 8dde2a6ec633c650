using TcpStore.Protocol;
using static TcpStore.TestSupport.ProtocolTestData;

namespace TcpStore.Protocol.Tests;

public class ReplyEncoderTests
{
    /// <summary>Every wire reply shape with its exact bytes, and the query type whose reply it is.</summary>
    public static IEnumerable<(Reply Reply, byte[] Wire, QueryType AnswerTo)> Shapes()
    {
        var binary = new byte[] { 0x00, 0xff, 0x80 };
        yield return (new Reply.Bytes(Ascii("value")), Vec("value"), QueryType.Get);
        yield return (new Reply.Bytes([]), U64(0), QueryType.CompareSet);
        yield return (new Reply.Bytes(binary), Vec(binary), QueryType.Get);
        yield return (new Reply.Integer(-3), Hex("fdffffffffffffff"), QueryType.Add);
        yield return (new Reply.Integer(long.MaxValue), Hex("ffffffffffffff7f"), QueryType.GetNumKeys);
        yield return (new Reply.Integer(0), I64(0), QueryType.DeleteKey);
        yield return (Reply.CheckResult.ReadyReply, [0x00], QueryType.Check);
        yield return (Reply.CheckResult.NotReadyReply, [0x01], QueryType.Check);
        yield return (Reply.StopWaiting.Instance, [0x00], QueryType.Wait);
        yield return (Reply.WaitCanceled.Instance, [0x01], QueryType.CancelWait);
        yield return (new Reply.Pong(0xdeadbeef), Hex("efbeadde"), QueryType.Ping);
        yield return (new Reply.MultiBytes([Ascii("1"), [], Ascii("333")]), Concat(Vec("1"), U64(0), Vec("333")), QueryType.MultiGet);
        yield return (new Reply.MultiBytes([]), [], QueryType.MultiGet);
        yield return (new Reply.QueueItem(3, Ascii("item")), Concat(I64(3), Vec("item")), QueryType.QueuePop);
        yield return (new Reply.QueueItem(1, []), Concat(I64(1), U64(0)), QueryType.QueuePop);
        yield return (new Reply.QueueItem(0, null), I64(0), QueryType.QueuePop);
        yield return (new Reply.KeyList([Ascii("/b"), Ascii("init/")]), Concat(I64(2), Vec("/b"), Vec("init/")), QueryType.ListKeys);
        yield return (new Reply.KeyList([]), I64(0), QueryType.ListKeys);
    }

    [Fact]
    public void Every_reply_shape_encodes_to_its_wire_bytes()
    {
        foreach (var (reply, wire, _) in Shapes())
        {
            Assert.Equal(wire.Length, ReplyEncoder.GetEncodedLength(reply));
            Assert.Equal(wire, ReplyEncoder.Encode(reply));

            // Encoding into a larger destination writes exactly the reply and nothing past it.
            var destination = Filled(wire.Length + 4, 0xee);
            Assert.Equal(wire.Length, ReplyEncoder.Encode(reply, destination));
            Assert.Equal(wire, destination[..wire.Length]);
            Assert.Equal(Filled(4, 0xee), destination[wire.Length..]);
        }
    }

    [Fact]
    public void A_batch_encodes_to_the_concatenation_of_its_replies()
    {
        var shapes = Shapes().ToList();
        var replies = shapes.Select(s => s.Reply).ToList();
        var expected = Concat(shapes.Select(s => s.Wire).ToArray());

        var batch = ReplyEncoder.Encode(replies);

        Assert.Equal(expected.Length, ReplyEncoder.GetEncodedLength(replies));
        Assert.Equal(expected, batch);

        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        System.Buffers.BuffersExtensions.Write(writer, new byte[] { 0xee });
        Assert.Equal(expected.Length, ReplyEncoder.Encode(replies, writer));
        Assert.Equal(Concat([0xee], expected), writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void An_empty_batch_encodes_to_nothing()
    {
        Assert.Empty(ReplyEncoder.Encode(Array.Empty<Reply>()));
        var writer = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.Equal(0, ReplyEncoder.Encode(Array.Empty<Reply>(), writer));
        Assert.Equal(0, writer.WrittenCount);
    }

    [Fact]
    public void WaitPending_is_not_encodable()
    {
        var pending = Reply.WaitPending.Instance;
        Assert.Throws<InvalidOperationException>(() => ReplyEncoder.GetEncodedLength(pending));
        Assert.Throws<InvalidOperationException>(() => ReplyEncoder.Encode(pending));
        Assert.Throws<InvalidOperationException>(() => ReplyEncoder.Encode(pending, new byte[16]));
        Assert.Throws<InvalidOperationException>(() => ReplyEncoder.Encode([new Reply.Integer(1), pending]));
    }

    [Fact]
    public void A_queue_item_with_a_positive_length_needs_its_value()
    {
        Assert.Throws<InvalidOperationException>(() => ReplyEncoder.Encode(new Reply.QueueItem(2, null)));
    }

    [Fact]
    public void A_non_positive_queue_length_sends_no_item()
    {
        Assert.Equal(I64(0), ReplyEncoder.Encode(new Reply.QueueItem(0, Ascii("ignored"))));
        Assert.Equal(I64(-1), ReplyEncoder.Encode(new Reply.QueueItem(-1, null)));
    }

    [Fact]
    public void A_too_small_destination_is_rejected_before_writing()
    {
        var destination = Filled(4, 0xee);
        Assert.Throws<ArgumentException>(() => ReplyEncoder.Encode(new Reply.Bytes(Ascii("abc")), destination));
        Assert.Equal(Filled(4, 0xee), destination);
    }

    [Fact]
    public void Every_reply_shape_reads_back_only_once_complete()
    {
        foreach (var (reply, wire, answerTo) in Shapes())
        {
            var keyCount = reply is Reply.MultiBytes multi ? multi.Values.Count : 0;
            for (var received = 0; received < wire.Length; received++)
            {
                Assert.False(ReplyReader.TryRead(answerTo, keyCount, wire.AsSpan(0, received), out _, out var consumed));
                Assert.Equal(0, consumed);
            }

            // A following reply's bytes are left alone.
            var withTrailer = Concat(wire, [0x99]);
            Assert.True(ReplyReader.TryRead(answerTo, keyCount, withTrailer, out var read, out var used));
            Assert.Equal(wire.Length, used);
            Assert.Equal(wire, ReplyEncoder.Encode(read!));
        }
    }

    [Fact]
    public void ReplyReader_sizes_a_multi_get_reply_by_its_query()
    {
        var query = new Query.MultiGet([Ascii("/a"), Ascii("/b")]);
        var wire = Concat(Vec("1"), Vec("2"));
        Assert.True(ReplyReader.TryRead(query, wire, out var reply, out var consumed));
        Assert.Equal(wire.Length, consumed);
        var values = Assert.IsType<Reply.MultiBytes>(reply).Values;
        Assert.Equal([Ascii("1"), Ascii("2")], values);
    }

    [Fact]
    public void ReplyReader_accepts_the_stop_waiting_that_races_a_cancel()
    {
        byte[] wire = [0x00, 0x01];
        Assert.True(ReplyReader.TryRead(Query.CancelWait.Instance, wire, out var first, out var used));
        Assert.IsType<Reply.StopWaiting>(first);
        Assert.True(ReplyReader.TryRead(Query.CancelWait.Instance, wire.AsSpan(used), out var second, out _));
        Assert.IsType<Reply.WaitCanceled>(second);
    }

    [Fact]
    public void ReplyReader_refuses_impossible_bytes_and_reply_less_queries()
    {
        Assert.Throws<InvalidDataException>(() => ReplyReader.TryRead(QueryType.Check, 0, [0x02], out _, out _));
        Assert.Throws<InvalidDataException>(() => ReplyReader.TryRead(QueryType.Wait, 0, [0x01], out _, out _));
        Assert.Throws<InvalidDataException>(() => ReplyReader.TryRead(QueryType.Get, 0, U64(ulong.MaxValue), out _, out _));
        foreach (var type in new[] { QueryType.Validate, QueryType.Set, QueryType.Append, QueryType.MultiSet, QueryType.QueuePush })
        {
            Assert.False(ReplyReader.HasReply(type));
            Assert.Throws<ArgumentException>(() => ReplyReader.TryRead(type, 0, [0x00], out _, out _));
        }
    }
}
