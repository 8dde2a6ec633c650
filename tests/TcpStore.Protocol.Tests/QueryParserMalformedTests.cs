using TcpStore.Protocol;
using static TcpStore.TestSupport.ProtocolTestData;

namespace TcpStore.Protocol.Tests;

/// <summary>The VALIDATE gate, unknown and repeated query types, and the end of input.</summary>
public class QueryParserMalformedTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void A_wrong_validate_byte_is_refused_as_soon_as_it_arrives(int position)
    {
        var wire = Concat(Validate, QueryEncoder.Encode(new Query.Ping(1)));
        wire[position] ^= 0x5a;
        var parser = new QueryParser(WireLimits.Default);
        var output = new List<Query>();

        // The correct bytes before it are accepted one at a time ...
        for (var i = 0; i < position; i++)
            parser.Feed(wire.AsSpan(i, 1), output);

        // ... and the wrong byte alone is enough to refuse the connection.
        var violation = FeedExpectingViolation(parser, wire[position..(position + 1)]);
        Assert.Equal(ViolationReason.InvalidValidate, violation.Reason);
        Assert.Empty(output);
        Assert.Equal(position == 0 ? null : QueryType.Validate, violation.Query);
    }

    [Theory]
    [InlineData(0x01)] // SET without VALIDATE
    [InlineData(0x0d)] // PING without VALIDATE
    [InlineData(0x47)] // 'G' of an HTTP probe
    [InlineData(0xff)]
    public void A_connection_not_starting_with_validate_is_refused(byte first)
    {
        var violation = FeedExpectingViolation(new QueryParser(WireLimits.Default), Concat([first], U64(1), Ascii("k")));
        Assert.Equal(ViolationReason.InvalidValidate, violation.Reason);
        Assert.Contains($"0x{first:x2}", violation.Detail);
    }

    [Fact]
    public void A_validate_with_a_wrong_magic_in_one_chunk_is_refused()
    {
        var violation = FeedExpectingViolation(new QueryParser(WireLimits.Default), [0x00, 0xce, 0xf7, 0x85, 0x3d]);
        Assert.Equal(ViolationReason.InvalidValidate, violation.Reason);
        Assert.Equal(QueryType.Validate, violation.Query);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void A_validate_split_across_chunks_is_accepted(int split)
    {
        var parser = new QueryParser(WireLimits.Default);
        var output = new List<Query>();
        parser.Feed(Validate.AsSpan(0, split), output);
        Assert.False(parser.IsValidated);
        parser.Feed(Validate.AsSpan(split), output);
        Assert.True(parser.IsValidated);
        Assert.Empty(output);
        parser.Complete();
    }

    [Fact]
    public void A_second_validate_is_refused()
    {
        var parser = ValidatedParser();
        var output = new List<Query>();
        parser.Feed(QueryEncoder.Encode(new Query.Ping(5)), output);

        var violation = FeedExpectingViolation(parser, Validate);
        Assert.Equal(ViolationReason.RepeatedValidate, violation.Reason);
        Assert.Equal(QueryType.Validate, violation.Query);
    }

    [Fact]
    public void Validate_twice_in_the_first_chunk_is_refused()
    {
        var violation = FeedExpectingViolation(new QueryParser(WireLimits.Default), Concat(Validate, Validate));
        Assert.Equal(ViolationReason.RepeatedValidate, violation.Reason);
    }

    [Theory]
    [InlineData(19)] // the first after BARRIER (18, PyTorch 2.12)
    [InlineData(0x80)]
    [InlineData(255)]
    public void Query_types_beyond_barrier_are_refused(byte type)
    {
        var violation = FeedExpectingViolation(ValidatedParser(), [type]);
        Assert.Equal(ViolationReason.UnknownQueryType, violation.Reason);
        Assert.Null(violation.Query);
        Assert.Contains(type.ToString(), violation.Detail);
    }

    [Fact]
    public void Queries_before_a_violation_in_the_same_chunk_are_output()
    {
        var parser = ValidatedParser();
        var output = new List<Query>();
        var good = new Query[] { new Query.Set(Ascii("/a"), Ascii("1")), new Query.Ping(9) };
        var wire = Concat(QueryEncoder.Encode(good, validateFirst: false), [19]);

        var violation = Assert.Throws<ProtocolViolationException>(() => parser.Feed(wire, output));

        Assert.Equal(ViolationReason.UnknownQueryType, violation.Reason);
        AssertSameQueries(good, output);
    }

    [Fact]
    public void A_failed_parser_refuses_further_input()
    {
        var parser = new QueryParser(WireLimits.Default);
        FeedExpectingViolation(parser, [0x01]);
        Assert.Throws<InvalidOperationException>(() => parser.Feed(Validate, new List<Query>()));
        Assert.Throws<InvalidOperationException>(parser.Complete);
    }

    [Fact]
    public void An_empty_connection_completes_cleanly()
    {
        new QueryParser(WireLimits.Default).Complete();
    }

    [Fact]
    public void A_connection_ending_between_requests_completes_cleanly()
    {
        ValidatedParser().Complete();

        var parser = ValidatedParser();
        parser.Feed(QueryEncoder.Encode(new Query.Get(Ascii("/k"))), new List<Query>());
        Assert.Equal(0, parser.PendingRequestBytes);
        parser.Complete();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void A_connection_ending_inside_validate_is_truncated(int received)
    {
        var parser = new QueryParser(WireLimits.Default);
        parser.Feed(Validate.AsSpan(0, received), new List<Query>());
        var violation = Assert.Throws<ProtocolViolationException>(parser.Complete);
        Assert.Equal(ViolationReason.TruncatedRequest, violation.Reason);
        Assert.Equal(QueryType.Validate, violation.Query);
    }

    [Fact]
    public void A_connection_ending_at_any_point_inside_any_request_is_truncated()
    {
        foreach (var query in OneOfEach().Where(q => QueryEncoder.GetEncodedLength(q) > 1))
        {
            var wire = QueryEncoder.Encode(query);
            for (var received = 1; received < wire.Length; received++)
            {
                var parser = ValidatedParser();
                parser.Feed(wire.AsSpan(0, received), new List<Query>());
                Assert.Equal(received, parser.PendingRequestBytes + 1); // everything but the type byte is pending

                var violation = Assert.Throws<ProtocolViolationException>(parser.Complete);
                Assert.Equal(ViolationReason.TruncatedRequest, violation.Reason);
                Assert.Equal(query.Type, violation.Query);
            }
        }
    }
}
