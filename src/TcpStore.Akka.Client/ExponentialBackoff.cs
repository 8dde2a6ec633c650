namespace TcpStore.Akka.Client;

/// <summary>
/// PyTorch's <c>ExponentialBackoffWithJitter</c>: each delay is drawn uniformly from
/// <c>[interval·(1−r), interval·(1+r)]</c>, then the interval grows by the multiplier up to the maximum.
/// </summary>
public sealed class ExponentialBackoff
{
    private readonly TimeSpan _max;
    private readonly double _randomization;
    private readonly double _multiplier;
    private readonly Random _random;
    private TimeSpan _current;

    /// <summary>A backoff starting at <paramref name="initial"/>; <paramref name="random"/> defaults to <see cref="Random.Shared"/>.</summary>
    public ExponentialBackoff(TimeSpan initial, double randomization, double multiplier, TimeSpan max, Random? random = null)
    {
        _current = initial;
        _randomization = randomization;
        _multiplier = multiplier;
        _max = max;
        _random = random ?? Random.Shared;
    }

    /// <summary>The backoff of <paramref name="options"/>.</summary>
    public static ExponentialBackoff For(TcpStoreClientOptions options) => new(
        options.InitialBackoff, options.BackoffRandomization, options.BackoffMultiplier, options.MaxBackoff);

    /// <summary>The current interval (before jitter).</summary>
    public TimeSpan Interval => _current;

    /// <summary>The next delay; advances the interval.</summary>
    public TimeSpan Next()
    {
        var spread = _current.TotalMilliseconds * _randomization;
        var low = _current.TotalMilliseconds - spread;
        var delay = TimeSpan.FromMilliseconds(low + (_random.NextDouble() * 2 * spread));
        var grown = TimeSpan.FromMilliseconds(_current.TotalMilliseconds * _multiplier);
        _current = grown > _max ? _max : grown;
        return delay;
    }
}
