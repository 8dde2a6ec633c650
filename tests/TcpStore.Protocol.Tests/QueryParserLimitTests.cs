using TcpStore.Protocol;
using static TcpStore.TestSupport.ProtocolTestData;

namespace TcpStore.Protocol.Tests;

/// <summary>
/// Key, value and count limits: accepted exactly at the limit, refused one past it — and refused as soon as the
/// 8-byte prefix arrives, before any body byte, without allocating anything the size of the claim.
/// </summary>
public class QueryParserLimitTests
{
    private const int MiB = 1024 * 1024;

    /// <summary>A request cut right after the length/count prefix that claims <c>claim</c>.</summary>
    private sealed record OversizedPrefix(QueryType Type, ViolationReason Reason, Func<ulong, byte[]> Build);

    private static readonly Dictionary<string, OversizedPrefix> Prefixes = new()
    {
        ["SET key"] = new(QueryType.Set, ViolationReason.KeyTooLong, c => Concat([1], U64(c))),
        ["SET value"] = new(QueryType.Set, ViolationReason.ValueTooLong, c => Concat([1], Vec("/k"), U64(c))),
        ["COMPARE_SET key"] = new(QueryType.CompareSet, ViolationReason.KeyTooLong, c => Concat([2], U64(c))),
        ["COMPARE_SET expected"] = new(QueryType.CompareSet, ViolationReason.ValueTooLong, c => Concat([2], Vec("/k"), U64(c))),
        ["COMPARE_SET desired"] = new(QueryType.CompareSet, ViolationReason.ValueTooLong, c => Concat([2], Vec("/k"), Vec("e"), U64(c))),
        ["GET key"] = new(QueryType.Get, ViolationReason.KeyTooLong, c => Concat([3], U64(c))),
        ["ADD key"] = new(QueryType.Add, ViolationReason.KeyTooLong, c => Concat([4], U64(c))),
        ["CHECK count"] = new(QueryType.Check, ViolationReason.TooManyKeys, c => Concat([5], U64(c))),
        ["CHECK key"] = new(QueryType.Check, ViolationReason.KeyTooLong, c => Concat([5], U64(2), Vec("/a"), U64(c))),
        ["WAIT count"] = new(QueryType.Wait, ViolationReason.TooManyKeys, c => Concat([6], U64(c))),
        ["WAIT key"] = new(QueryType.Wait, ViolationReason.KeyTooLong, c => Concat([6], U64(1), U64(c))),
        ["DELETE_KEY key"] = new(QueryType.DeleteKey, ViolationReason.KeyTooLong, c => Concat([8], U64(c))),
        ["APPEND key"] = new(QueryType.Append, ViolationReason.KeyTooLong, c => Concat([9], U64(c))),
        ["APPEND value"] = new(QueryType.Append, ViolationReason.ValueTooLong, c => Concat([9], Vec("/k"), U64(c))),
        ["MULTI_GET count"] = new(QueryType.MultiGet, ViolationReason.TooManyKeys, c => Concat([10], U64(c))),
        ["MULTI_GET key"] = new(QueryType.MultiGet, ViolationReason.KeyTooLong, c => Concat([10], U64(3), Vec("/a"), Vec("/b"), U64(c))),
        ["MULTI_SET count"] = new(QueryType.MultiSet, ViolationReason.TooManyKeys, c => Concat([11], U64(c))),
        ["MULTI_SET key"] = new(QueryType.MultiSet, ViolationReason.KeyTooLong, c => Concat([11], U64(2), Vec("/a"), Vec("1"), U64(c))),
        ["MULTI_SET value"] = new(QueryType.MultiSet, ViolationReason.ValueTooLong, c => Concat([11], U64(2), Vec("/a"), Vec("1"), Vec("/b"), U64(c))),
        ["QUEUE_PUSH key"] = new(QueryType.QueuePush, ViolationReason.KeyTooLong, c => Concat([14], U64(c))),
        ["QUEUE_PUSH value"] = new(QueryType.QueuePush, ViolationReason.ValueTooLong, c => Concat([14], Vec("/q"), U64(c))),
        ["QUEUE_POP key"] = new(QueryType.QueuePop, ViolationReason.KeyTooLong, c => Concat([15], U64(c))),
        ["QUEUE_LEN key"] = new(QueryType.QueueLen, ViolationReason.KeyTooLong, c => Concat([16], U64(c))),
    };

    public static TheoryData<string> PrefixNames() => new(Prefixes.Keys);

    private static ulong JustOverLimit(ViolationReason reason, WireLimits limits) => reason switch
    {
        ViolationReason.KeyTooLong => (ulong)limits.MaxKeyBytes + 1,
        ViolationReason.ValueTooLong => (ulong)limits.MaxValueBytes + 1,
        _ => (ulong)limits.MaxKeysPerRequest + 1,
    };

    [Theory]
    [MemberData(nameof(PrefixNames))]
    public void One_past_the_limit_is_refused_on_the_last_prefix_byte(string name)
    {
        var prefix = Prefixes[name];
        var wire = prefix.Build(JustOverLimit(prefix.Reason, WireLimits.Default));
        var parser = ValidatedParser();
        var output = new List<Query>();

        // Everything but the last prefix byte is accepted (and may complete earlier fields, not the request).
        parser.Feed(wire.AsSpan(0, wire.Length - 1), output);
        Assert.Empty(output);

        var violation = FeedExpectingViolation(parser, wire[^1..]);
        Assert.Equal(prefix.Reason, violation.Reason);
        Assert.Equal(prefix.Type, violation.Query);
        Assert.Contains(JustOverLimit(prefix.Reason, WireLimits.Default).ToString(), violation.Detail);
    }

    [Theory]
    [MemberData(nameof(PrefixNames))]
    public void Absurd_claims_are_refused_without_allocating_them(string name)
    {
        var prefix = Prefixes[name];
        foreach (var claim in new[] { 1UL << 63, ulong.MaxValue, 1UL << 32, (ulong)int.MaxValue + 1 })
        {
            var wire = prefix.Build(claim);

            // Whole prefix in one chunk (parsed straight from the span) ...
            AssertRefusedCheaply(prefix, () => FeedExpectingViolation(ValidatedParser(), wire));

            // ... and the prefix split so that it is completed inside the internal buffer.
            AssertRefusedCheaply(prefix, () =>
            {
                var parser = ValidatedParser();
                parser.Feed(wire.AsSpan(0, wire.Length - 3), new List<Query>());
                return FeedExpectingViolation(parser, wire[^3..]);
            });
        }
    }

    private static void AssertRefusedCheaply(OversizedPrefix prefix, Func<ProtocolViolationException> refuse)
    {
        refuse(); // Warm up JIT and statics so that only the refusal itself is measured.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var violation = refuse();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(prefix.Reason, violation.Reason);
        Assert.Equal(prefix.Type, violation.Query);
        Assert.InRange(allocated, 0, MiB);
    }

    [Theory]
    [InlineData((byte)QueryType.MultiGet)]
    [InlineData((byte)QueryType.MultiSet)]
    public void A_key_count_at_the_limit_allocates_nothing_before_its_keys_arrive(byte type)
    {
        var header = Concat([type], U64(131072));
        ValidatedParser().Feed(header, new List<Query>()); // warm up

        var parser = ValidatedParser();
        var output = new List<Query>();
        var before = GC.GetAllocatedBytesForCurrentThread();
        parser.Feed(header, output);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // A list sized by the claim would take 1-2 MiB here; it must grow with the keys instead.
        Assert.Empty(output);
        Assert.InRange(allocated, 0, 64 * 1024);
    }

    [Fact]
    public void Default_key_limit_admits_8192_bytes_and_refuses_8193()
    {
        var atLimit = new Query[]
        {
            new Query.Set(Filled(8192, 0x6b), Ascii("v")),
            new Query.MultiGet([Filled(8192, 0x61), Ascii("/b")]),
            new Query.MultiSet([new KeyValuePair<byte[], byte[]>(Filled(8192, 0x62), Ascii("2"))]),
        };
        AssertSameQueries(atLimit, ParseChunks([QueryEncoder.Encode(atLimit, validateFirst: true)]));

        var violation = FeedExpectingViolation(ValidatedParser(), Concat([3], U64(8193)));
        Assert.Equal(ViolationReason.KeyTooLong, violation.Reason);
    }

    [Fact]
    public void Default_value_limit_admits_8_MiB_and_refuses_one_byte_more()
    {
        var value = Filled(8 * MiB, 0x76);
        var atLimit = new Query[] { new Query.Set(Ascii("/big"), value), new Query.CompareSet(Ascii("/big"), [], value) };
        var wire = QueryEncoder.Encode(atLimit, validateFirst: true);
        var random = new Random(8);
        AssertSameQueries(atLimit, ParseChunks(RandomChunks(wire, random, 64 * 1024)));

        var violation = FeedExpectingViolation(ValidatedParser(), Concat([1], Vec("/big"), U64(8 * MiB + 1)));
        Assert.Equal(ViolationReason.ValueTooLong, violation.Reason);
    }

    [Fact]
    public void Default_key_count_limit_admits_131072_keys_and_refuses_131073()
    {
        var keys = Enumerable.Range(0, 131072).Select(_ => Array.Empty<byte>()).ToList();
        var atLimit = new Query[] { new Query.MultiGet(keys), new Query.Check(keys), new Query.Wait(keys) };
        var parsed = ParseChunks([QueryEncoder.Encode(atLimit, validateFirst: true)]);
        Assert.Equal([131072, 131072, 131072], parsed.Select(q => q switch
        {
            Query.MultiGet m => m.Keys.Count,
            Query.Check c => c.Keys.Count,
            Query.Wait w => w.Keys.Count,
            _ => -1,
        }));

        foreach (var type in new byte[] { 5, 6, 10, 11 })
        {
            var violation = FeedExpectingViolation(ValidatedParser(), Concat([type], U64(131073)));
            Assert.Equal(ViolationReason.TooManyKeys, violation.Reason);
            Assert.Equal((QueryType)type, violation.Query);
        }
    }

    [Fact]
    public void Custom_limits_apply_to_every_field_exactly_at_the_boundary()
    {
        var limits = new WireLimits(MaxKeyBytes: 16, MaxValueBytes: 32, MaxKeysPerRequest: 3);
        var key = Filled(16, 0x6b);
        var value = Filled(32, 0x76);
        byte[][] keys = [key, key, key];
        var atLimit = new Query[]
        {
            new Query.Set(key, value), new Query.CompareSet(key, value, value), new Query.Get(key), new Query.Add(key, 1),
            new Query.Check(keys), new Query.Wait(keys), new Query.DeleteKey(key), new Query.Append(key, value),
            new Query.MultiGet(keys), new Query.MultiSet(keys.Select(k => new KeyValuePair<byte[], byte[]>(k, value)).ToList()),
            new Query.QueuePush(key, value), new Query.QueuePop(key), new Query.QueueLen(key),
        };
        AssertSameQueries(atLimit, ParseChunks([QueryEncoder.Encode(atLimit, validateFirst: true)], limits));

        foreach (var (name, prefix) in Prefixes)
        {
            var parser = ValidatedParser(limits);
            var violation = FeedExpectingViolation(parser, prefix.Build(JustOverLimit(prefix.Reason, limits)));
            Assert.True(prefix.Reason == violation.Reason, $"{name}: expected {prefix.Reason}, got {violation.Reason}");
        }
    }

    [Fact]
    public void Zero_limits_admit_only_empty_fields()
    {
        var limits = new WireLimits(0, 0, 0);
        var empty = new Query[] { new Query.Set([], []), new Query.MultiGet([]), new Query.MultiSet([]) };
        AssertSameQueries(empty, ParseChunks([QueryEncoder.Encode(empty, validateFirst: true)], limits));
        Assert.Equal(ViolationReason.KeyTooLong, FeedExpectingViolation(ValidatedParser(limits), Concat([3], U64(1))).Reason);
    }

    [Fact]
    public void Negative_limits_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new QueryParser(new WireLimits(-1, 1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QueryParser(new WireLimits(1, -1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QueryParser(new WireLimits(1, 1, -1)));
    }
}
