"""The three SynthAct datasets' settings (``amarv.yaml``, ``smarthome.yaml``, ``ntu.yaml``) and their reader."""
