using TcpStore.Akka.Cli;

namespace TcpStore.Akka.Client.Tests;

/// <summary>Backoff arithmetic, option validation, and the CLI's value and duration formats.</summary>
public sealed class OptionsAndFormatTests
{
    [Fact]
    public void Backoff_draws_within_half_either_side_and_grows_by_one_and_a_half_up_to_the_max()
    {
        var defaults = new TcpStoreClientOptions();
        Assert.Equal(TimeSpan.FromMilliseconds(500), defaults.InitialBackoff);
        Assert.Equal(0.5, defaults.BackoffRandomization);
        Assert.Equal(1.5, defaults.BackoffMultiplier);
        Assert.Equal(TimeSpan.FromSeconds(60), defaults.MaxBackoff);
        Assert.Equal(TimeSpan.FromSeconds(300), defaults.Timeout);
        Assert.Equal(defaults.Timeout, defaults.EffectiveConnectTimeout);
        Assert.Equal("/", defaults.KeyPrefix);
        Assert.False(defaults.Reconnect);

        var backoff = new ExponentialBackoff(TimeSpan.FromMilliseconds(500), 0.5, 1.5, TimeSpan.FromSeconds(60), new Random(1));
        var interval = 500.0;
        var seen = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(interval, backoff.Interval.TotalMilliseconds, 1); // TimeSpan keeps 100 ns ticks
            var delay = backoff.Next().TotalMilliseconds;
            Assert.InRange(delay, (interval * 0.5) - 0.01, (interval * 1.5) + 0.01);
            seen.Add(delay / interval);
            interval = Math.Min(interval * 1.5, 60_000);
        }

        Assert.Equal(60_000, backoff.Interval.TotalMilliseconds, 3);
        Assert.True(seen.Distinct().Count() > 10, "the jitter is random");
    }

    [Fact]
    public void Invalid_options_are_rejected_up_front()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TcpStoreClient(new TcpStoreClientOptions { Port = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TcpStoreClient(new TcpStoreClientOptions { Port = 70000 }));
        Assert.Throws<ArgumentException>(() => new TcpStoreClient(new TcpStoreClientOptions { Host = " " }));
        Assert.Throws<ArgumentOutOfRangeException>(
            () => new TcpStoreClient(new TcpStoreClientOptions { Timeout = TimeSpan.FromSeconds(-2) }));
        Assert.Throws<ArgumentOutOfRangeException>(
            () => new TcpStoreClient(new TcpStoreClientOptions { BackoffRandomization = 2 }));
        using var infinite = new TcpStoreClient(new TcpStoreClientOptions { Timeout = Timeout.InfiniteTimeSpan });
        Assert.False(infinite.IsConnected);
    }

    [Fact]
    public async Task MultiSet_with_mismatched_lengths_fails_before_connecting()
    {
        using var client = new TcpStoreClient("127.0.0.1", 1);
        await Assert.ThrowsAsync<ArgumentException>(() => client.MultiSetAsync(["a", "b"], [[1]]));
        Assert.False(client.IsConnected);
    }

    [Theory]
    [InlineData(new byte[] { 0x68, 0x69 }, "hex", "hi", "text")]
    [InlineData(new byte[] { 0x61, 0x09, 0x62, 0x0a }, "hex", "a\tb\n", "text")]
    [InlineData(new byte[] { 0x00, 0xff, 0x10 }, "hex", "00ff10", "hex")]
    [InlineData(new byte[] { 0x00, 0xff, 0x10 }, "base64", "AP8Q", "base64")]
    [InlineData(new byte[] { 0xc3, 0x28 }, "hex", "c328", "hex")] // invalid UTF-8
    [InlineData(new byte[] { 0x1b, 0x5b }, "hex", "1b5b", "hex")] // escape: not printable
    [InlineData(new byte[] { 0xc3, 0xa9 }, "hex", "é", "text")]
    [InlineData(new byte[0], "hex", "", "text")]
    public void Values_print_as_text_when_printable_else_hex_or_base64(byte[] value, string binary, string text, string encoding) =>
        Assert.Equal((text, encoding), ValueFormat.Show(value, binary));

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("30s", 30_000)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1.5", 1_500)]
    [InlineData("0", 0)]
    public void Durations_parse(string text, double milliseconds)
    {
        Assert.True(ValueFormat.TryParseDuration(text, out var duration));
        Assert.Equal(milliseconds, duration.TotalMilliseconds);
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-1s")]
    [InlineData("")]
    public void Bad_durations_do_not_parse(string text) => Assert.False(ValueFormat.TryParseDuration(text, out _));
}
