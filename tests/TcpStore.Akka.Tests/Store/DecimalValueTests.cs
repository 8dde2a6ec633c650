using System.Text;
using TcpStore.Akka.Store;

namespace TcpStore.Akka.Tests.Store;

public sealed class DecimalValueTests
{
    [Theory]
    [InlineData("0", 0L)]
    [InlineData("42", 42L)]
    [InlineData("-3", -3L)]
    [InlineData("+5", 5L)]
    [InlineData(" 7xyz", 7L)]
    [InlineData(" \t\n\v\f\r12", 12L)]
    [InlineData("0007", 7L)]
    [InlineData("12 34", 12L)]
    [InlineData("-0", 0L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    [InlineData("00000000000000000000009223372036854775807", long.MaxValue)]
    public void Parses_like_strtoll(string text, long expected)
    {
        Assert.True(DecimalValue.TryParse(Encoding.ASCII.GetBytes(text), out var value, out var reason));
        Assert.Equal(expected, value);
        Assert.Null(reason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("   ")]
    [InlineData("-")]
    [InlineData("+-5")]
    [InlineData("- 5")]
    [InlineData("x12")]
    [InlineData("\u00a012")] // not C white space
    public void Rejects_values_without_digits(string text)
    {
        Assert.False(DecimalValue.TryParse(Encoding.Latin1.GetBytes(text), out _, out var reason));
        Assert.Equal(DecimalValue.NotANumber, reason);
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("-9223372036854775809")]
    [InlineData("99999999999999999999")]
    [InlineData("  +18446744073709551616xyz")]
    public void Rejects_values_outside_int64(string text)
    {
        Assert.False(DecimalValue.TryParse(Encoding.ASCII.GetBytes(text), out _, out var reason));
        Assert.Equal(DecimalValue.OutOfRange, reason);
    }

    [Theory]
    [InlineData(0L, "0")]
    [InlineData(-3L, "-3")]
    [InlineData(long.MaxValue, "9223372036854775807")]
    [InlineData(long.MinValue, "-9223372036854775808")]
    public void Formats_as_invariant_decimal_ascii(long value, string expected)
    {
        Assert.Equal(expected, Encoding.ASCII.GetString(DecimalValue.Format(value)));
    }
}
