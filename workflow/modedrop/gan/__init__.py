"""Studies of real generators (issue 6): toy 2-D GANs, DCGAN tracking and black-box diagnosis."""
