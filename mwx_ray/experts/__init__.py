"""Expert training core: RLlib PPO config (ppo), Ray-free expert export (export) and inference (policy).

``policy`` imports neither ray nor tune, so a router or an eval script can load exported experts anywhere.
"""
