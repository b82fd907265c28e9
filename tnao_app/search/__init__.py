"""Search methods: TNAO's competitive swarm and the baselines, one module each."""
